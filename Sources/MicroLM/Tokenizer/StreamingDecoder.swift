/// Turns token ids, one at a time, into text, holding back the bytes of a character that a later token
/// completes: each call returns only whole UTF-8 characters (a token may end inside one; an emoji
/// often spans several tokens).
public struct StreamingDecoder: Sendable {
    public let tokenizer: Tokenizer
    public var renderSpecial: Bool
    private var pending: [UInt8] = []

    public init(tokenizer: Tokenizer, renderSpecial: Bool = false) {
        self.tokenizer = tokenizer
        self.renderSpecial = renderSpecial
    }

    /// Adds one token; returns the text that is now complete (possibly empty).
    public mutating func append(_ id: Int32) -> String {
        tokenizer.appendBytes(of: id, renderSpecial: renderSpecial, to: &pending)
        let cut = Self.completePrefixLength(pending)
        guard cut > 0 else { return "" }
        let text = String(decoding: pending[..<cut], as: UTF8.self)
        pending.removeFirst(cut)
        return text
    }

    /// Returns whatever is held back (an unfinished character becomes U+FFFD) and starts afresh.
    public mutating func finish() -> String {
        defer { pending.removeAll() }
        return String(decoding: pending, as: UTF8.self)
    }

    /// Whether bytes of an unfinished character are held back.
    public var hasPendingBytes: Bool { !pending.isEmpty }

    /// Length of the prefix that ends on a character boundary: everything but a trailing lead byte
    /// whose continuation bytes have not all arrived yet. Malformed bytes are let through (and decode to U+FFFD).
    static func completePrefixLength(_ bytes: [UInt8]) -> Int {
        let count = bytes.count
        var i = count - 1
        while i >= 0 && i >= count - 4 {
            let byte = bytes[i]
            if byte & 0xC0 != 0x80 {
                let length: Int
                switch byte {
                case 0xC2...0xDF: length = 2
                case 0xE0...0xEF: length = 3
                case 0xF0...0xF4: length = 4
                default: length = 1
                }
                return i + length > count ? i : count
            }
            i -= 1
        }
        return count
    }
}
