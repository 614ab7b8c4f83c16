/// The pre-tokenizers of llama.cpp for byte-level BPE, written by hand over Unicode properties.
///
/// A pre-tokenizer cuts text into pieces that BPE then encodes independently. The rules are those of
/// the regular expressions that llama.cpp uses for each `tokenizer.ggml.pre`:
/// - `gpt2`:   `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
/// - `smollm` (and the StarCoder family): first every single `\p{N}` is cut out on its own, then each
///   piece is split with the `gpt2` rules (so numbers become one token per digit).
/// - `llama3`: `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
///   (and the whole piece becomes one token when the vocabulary has it, as llama.cpp's `ignore_merges`).
public enum PreTokenizer: String, Sendable, CaseIterable {
    case gpt2
    case smollm
    case llama3

    /// `tokenizer.ggml.pre` values and the rules they use (llama.cpp's names).
    static let namesByRule: [String: PreTokenizer] = [
        "gpt2": .gpt2, "gpt-2": .gpt2, "mpt": .gpt2, "olmo": .gpt2, "jais": .gpt2, "trillion": .gpt2,
        "smollm": .smollm, "starcoder": .smollm, "refact": .smollm, "command-r": .smollm,
        "codeshell": .smollm, "exaone": .smollm, "minerva-7b": .smollm,
        "llama3": .llama3, "llama-v3": .llama3, "llama-bpe": .llama3,
    ]

    static var supportedNames: [String] { namesByRule.keys.sorted() }

    /// The rules for a `tokenizer.ggml.pre` value, or nil when unknown. A file without the key gets `gpt2`.
    public init?(ggmlName: String) {
        guard let rule = Self.namesByRule[ggmlName] else { return nil }
        self = rule
    }
}

/// Character classes the split rules need, one byte per code point.
enum CharClass {
    static let letter: UInt8 = 1
    static let number: UInt8 = 2
    static let whitespace: UInt8 = 4
    /// Set for every code point inside the piece; positions outside read as 0.
    static let inside: UInt8 = 0x80

    @inline(__always)
    static func of(_ value: UInt32) -> UInt8 {
        if value < 0x80 {
            if value >= 0x61 && value <= 0x7A || value >= 0x41 && value <= 0x5A { return inside | letter }
            if value >= 0x30 && value <= 0x39 { return inside | number }
            if value == 0x20 || (value >= 0x09 && value <= 0x0D) { return inside | whitespace }
            return inside
        }
        return ofNonASCII(value)
    }

    static func ofNonASCII(_ value: UInt32) -> UInt8 {
        guard let scalar = Unicode.Scalar(value) else { return inside }
        let properties = scalar.properties
        var flags = inside
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            flags |= letter
        case .decimalNumber, .letterNumber, .otherNumber:
            flags |= number
        default:
            break
        }
        if properties.isWhitespace { flags |= whitespace }
        return flags
    }
}

/// One fragment of text decoded into code points, their classes and their UTF-8 offsets.
struct ScalarText {
    var scalars: [UInt32] = []
    var classes: [UInt8] = []
    /// `byteOffsets[i]` is where scalar i starts in the fragment's bytes; one extra entry for the end.
    var byteOffsets: [Int] = []

    mutating func load(_ bytes: UnsafeBufferPointer<UInt8>) {
        scalars.removeAll(keepingCapacity: true)
        classes.removeAll(keepingCapacity: true)
        byteOffsets.removeAll(keepingCapacity: true)
        var i = 0
        let n = bytes.count
        // The bytes come from a Swift String, so they are valid UTF-8; malformed input still cannot
        // read out of bounds here, it only decodes to odd code points.
        while i < n {
            let b0 = UInt32(bytes[i])
            var value = b0
            var length = 1
            if b0 >= 0xF0, i + 3 < n {
                value = (b0 & 0x07) << 18 | (UInt32(bytes[i + 1]) & 0x3F) << 12
                    | (UInt32(bytes[i + 2]) & 0x3F) << 6 | (UInt32(bytes[i + 3]) & 0x3F)
                length = 4
            } else if b0 >= 0xE0, i + 2 < n {
                value = (b0 & 0x0F) << 12 | (UInt32(bytes[i + 1]) & 0x3F) << 6 | (UInt32(bytes[i + 2]) & 0x3F)
                length = 3
            } else if b0 >= 0xC0, i + 1 < n {
                value = (b0 & 0x1F) << 6 | (UInt32(bytes[i + 1]) & 0x3F)
                length = 2
            }
            scalars.append(value)
            classes.append(CharClass.of(value))
            byteOffsets.append(i)
            i += length
        }
        byteOffsets.append(n)
    }
}

/// Splits code points `[start, end)` into pieces, appending each piece's end index to `ends`.
struct PreTokenizerSplitter {
    let rule: PreTokenizer

    func split(_ text: ScalarText, into ends: inout [Int]) {
        let count = text.scalars.count
        guard count > 0 else { return }
        switch rule {
        case .gpt2:
            splitGPT2(text, start: 0, end: count, into: &ends)
        case .llama3:
            splitLlama3(text, start: 0, end: count, into: &ends)
        case .smollm:
            // First rule `\p{N}`: every number code point is a piece of its own, the runs between
            // them are pieces too; the gpt2 rules then split each piece.
            var runStart = 0
            for i in 0..<count where text.classes[i] & CharClass.number != 0 {
                if runStart < i { splitGPT2(text, start: runStart, end: i, into: &ends) }
                ends.append(i + 1)
                runStart = i + 1
            }
            if runStart < count { splitGPT2(text, start: runStart, end: count, into: &ends) }
        }
    }

    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`, confined to `[start, end)`.
    private func splitGPT2(_ text: ScalarText, start: Int, end: Int, into ends: inout [Int]) {
        text.classes.withUnsafeBufferPointer { classes in
            text.scalars.withUnsafeBufferPointer { scalars in
                @inline(__always) func cls(_ p: Int) -> UInt8 { p < end ? classes[p] : 0 }
                @inline(__always) func cpt(_ p: Int) -> UInt32 { p < end ? scalars[p] : UInt32.max }
                var pos = start
                while pos < end {
                    let c = scalars[pos]
                    // Contractions, case-sensitive.
                    if c == 0x27, pos + 1 < end {
                        let n1 = scalars[pos + 1]
                        if n1 == 0x73 || n1 == 0x74 || n1 == 0x6D || n1 == 0x64 {  // s t m d
                            pos += 2; ends.append(pos); continue
                        }
                        if pos + 2 < end {
                            let n2 = scalars[pos + 2]
                            if (n1 == 0x72 && n2 == 0x65) || (n1 == 0x76 && n2 == 0x65) || (n1 == 0x6C && n2 == 0x6C) {
                                pos += 3; ends.append(pos); continue
                            }
                        }
                    }
                    let space = c == 0x20
                    let first = space ? cls(pos + 1) : classes[pos]
                    if first & CharClass.letter != 0 {  // ` ?\p{L}+`
                        pos += space ? 2 : 1
                        while cls(pos) & CharClass.letter != 0 { pos += 1 }
                        ends.append(pos); continue
                    }
                    if first & CharClass.number != 0 {  // ` ?\p{N}+`
                        pos += space ? 2 : 1
                        while cls(pos) & CharClass.number != 0 { pos += 1 }
                        ends.append(pos); continue
                    }
                    if Self.isOther(first) {  // ` ?[^\s\p{L}\p{N}]+`
                        pos += space ? 2 : 1
                        while Self.isOther(cls(pos)) { pos += 1 }
                        ends.append(pos); continue
                    }
                    var spaces = 0
                    while cls(pos + spaces) & CharClass.whitespace != 0 { spaces += 1 }
                    if spaces > 1 && cpt(pos + spaces) != UInt32.max {  // `\s+(?!\S)`: leave the last one
                        pos += spaces - 1; ends.append(pos); continue
                    }
                    if spaces > 0 {  // `\s+`
                        pos += spaces; ends.append(pos); continue
                    }
                    pos += 1  // no rule matches: a piece of one code point
                    ends.append(pos)
                }
            }
        }
    }

    /// llama.cpp's llama3 rules, confined to `[start, end)`.
    private func splitLlama3(_ text: ScalarText, start: Int, end: Int, into ends: inout [Int]) {
        text.classes.withUnsafeBufferPointer { classes in
            text.scalars.withUnsafeBufferPointer { scalars in
                @inline(__always) func cls(_ p: Int) -> UInt8 { p < end ? classes[p] : 0 }
                @inline(__always) func cpt(_ p: Int) -> UInt32 { p < end ? scalars[p] : UInt32.max }
                @inline(__always) func lower(_ v: UInt32) -> UInt32 { (v >= 0x41 && v <= 0x5A) ? v + 0x20 : v }
                var pos = start
                while pos < end {
                    let c = scalars[pos]
                    let flags = classes[pos]
                    // Contractions, case-insensitive.
                    if c == 0x27, pos + 1 < end {
                        let n1 = lower(scalars[pos + 1])
                        if n1 == 0x73 || n1 == 0x74 || n1 == 0x6D || n1 == 0x64 {
                            pos += 2; ends.append(pos); continue
                        }
                        if pos + 2 < end {
                            let n2 = lower(scalars[pos + 2])
                            if (n1 == 0x72 && n2 == 0x65) || (n1 == 0x76 && n2 == 0x65) || (n1 == 0x6C && n2 == 0x6C) {
                                pos += 3; ends.append(pos); continue
                            }
                        }
                    }
                    // `[^\r\n\p{L}\p{N}]?\p{L}+`
                    if !(c == 0x0D || c == 0x0A || flags & CharClass.number != 0) {
                        if flags & CharClass.letter != 0 || cls(pos + 1) & CharClass.letter != 0 {
                            pos += 1
                            while cls(pos) & CharClass.letter != 0 { pos += 1 }
                            ends.append(pos); continue
                        }
                    }
                    // `\p{N}{1,3}`
                    if flags & CharClass.number != 0 {
                        var runStart = pos
                        while cls(pos) & CharClass.number != 0 {
                            pos += 1
                            if pos - runStart >= 3 { ends.append(pos); runStart = pos }
                        }
                        if pos > runStart { ends.append(pos) }
                        continue
                    }
                    // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
                    let space = c == 0x20
                    let first = space ? cls(pos + 1) : flags
                    if Self.isOther(first) {
                        pos += space ? 2 : 1
                        while Self.isOther(cls(pos)) { pos += 1 }
                        while cpt(pos) == 0x0D || cpt(pos) == 0x0A { pos += 1 }
                        ends.append(pos); continue
                    }
                    var spaces = 0
                    var afterLastNewline = 0
                    while cls(pos + spaces) & CharClass.whitespace != 0 {
                        let w = scalars[pos + spaces]
                        if w == 0x0D || w == 0x0A { afterLastNewline = pos + spaces + 1 }
                        spaces += 1
                    }
                    if afterLastNewline > 0 {  // `\s*[\r\n]+`
                        pos = afterLastNewline; ends.append(pos); continue
                    }
                    if spaces > 1 && cpt(pos + spaces) != UInt32.max {  // `\s+(?!\S)`
                        pos += spaces - 1; ends.append(pos); continue
                    }
                    if spaces > 0 {  // `\s+`
                        pos += spaces; ends.append(pos); continue
                    }
                    pos += 1
                    ends.append(pos)
                }
            }
        }
    }

    /// `[^\s\p{L}\p{N}]` inside the piece.
    @inline(__always)
    private static func isOther(_ flags: UInt8) -> Bool {
        flags & (CharClass.letter | CharClass.number | CharClass.whitespace) == 0 && flags != 0
    }
}

extension PreTokenizer {
    /// The pieces these rules cut `text` into; BPE encodes each piece on its own. For inspection and tests.
    public func split(_ text: String) -> [String] {
        var bytes = Array(text.utf8)
        var pieces: [String] = []
        bytes.withUnsafeMutableBufferPointer { buffer in
            let view = UnsafeBufferPointer(buffer)
            var scalars = ScalarText()
            scalars.load(view)
            var ends: [Int] = []
            PreTokenizerSplitter(rule: self).split(scalars, into: &ends)
            var start = 0
            for end in ends {
                let slice = view[scalars.byteOffsets[start]..<scalars.byteOffsets[end]]
                pieces.append(String(decoding: UnsafeBufferPointer(rebasing: slice), as: UTF8.self))
                start = end
            }
        }
        return pieces
    }
}
