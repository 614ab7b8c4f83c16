#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Byte-level BPE tokenizer (GPT-2 style) built from a GGUF file's `tokenizer.ggml.*` metadata,
/// reproducing llama.cpp's tokenization.
///
/// Encoding: special tokens are cut out first (control tokens only with `parseSpecial: true`,
/// user-defined tokens always), the rest is split by the file's pre-tokenizer, and each piece is
/// encoded by BPE merges over its UTF-8 bytes. No BOS is added; see `addBOS`.
public final class Tokenizer: Sendable {
    /// Number of entries in the vocabulary; valid ids are `0..<vocabularySize`.
    public let vocabularySize: Int
    public let bosID: Int32?
    public let eosID: Int32?
    public let unknownID: Int32?
    public let paddingID: Int32?
    /// Whether the model expects a BOS token in front of a prompt (`tokenizer.ggml.add_bos_token`).
    public let addBOS: Bool
    public let preTokenizer: PreTokenizer
    /// Ids that end a generation: EOS, EOT, and the chat end markers the vocabulary has as special tokens.
    public let endOfGenerationIDs: Set<Int32>

    private let tokens: [String]
    private let types: [TokenType]
    private let idByText: [String: Int32]
    private let byteIDs: [Int32]
    private let merger: BPEMerger
    /// Special tokens by descending length: their UTF-8 bytes, id, and whether they are parsed always.
    private let specials: [(bytes: [UInt8], id: Int32, always: Bool)]
    /// The bytes each token decodes to, all in one buffer: token i is `pieceBytes[pieceStarts[i]..<pieceStarts[i+1]]`.
    private let pieceBytes: [UInt8]
    private let pieceStarts: [Int]

    /// Reads the tokenizer of a GGUF model. Throws `TokenizerError` when keys are missing or inconsistent.
    public convenience init(gguf: GGUFFile) throws {
        guard let model = gguf.string("tokenizer.ggml.model") else {
            throw TokenizerError.missingKey("tokenizer.ggml.model")
        }
        guard model == "gpt2" else { throw TokenizerError.unsupportedModel(model) }
        let preName = gguf.string("tokenizer.ggml.pre") ?? "gpt2"
        guard let pre = PreTokenizer(ggmlName: preName) else { throw TokenizerError.unsupportedPreTokenizer(preName) }
        guard let tokens = gguf.stringArray("tokenizer.ggml.tokens") else {
            throw TokenizerError.missingKey("tokenizer.ggml.tokens")
        }
        guard let merges = gguf.stringArray("tokenizer.ggml.merges") else {
            throw TokenizerError.missingKey("tokenizer.ggml.merges")
        }
        var types: [Int]? = nil
        if gguf.metadata["tokenizer.ggml.token_type"] != nil {
            guard let values = gguf.intArray("tokenizer.ggml.token_type") else {
                throw TokenizerError.missingKey("tokenizer.ggml.token_type")
            }
            types = values
        }
        var ids: [String: Int] = [:]
        for name in ["bos", "eos", "unknown", "padding", "eot", "eom"] {
            let key = "tokenizer.ggml.\(name)_token_id"
            if let value = gguf.metadata[key] {
                guard let id = value.intValue else { throw TokenizerError.missingKey(key) }
                ids[name] = id
            }
        }
        try self.init(tokens: tokens, tokenTypes: types, merges: merges, preTokenizer: pre,
                      bosID: ids["bos"], eosID: ids["eos"], unknownID: ids["unknown"], paddingID: ids["padding"],
                      extraEndIDs: [ids["eot"], ids["eom"]].compactMap { $0 },
                      addBOS: gguf.bool("tokenizer.ggml.add_bos_token") ?? false)
    }

    /// Builds a tokenizer from a vocabulary in GGUF form: `tokens` in the GPT-2 byte spelling,
    /// `merges` as `"left right"` in rank order, `tokenTypes` (llama.cpp's numbering; all normal when nil).
    public init(tokens: [String], tokenTypes: [Int]?, merges: [String], preTokenizer: PreTokenizer,
                bosID: Int?, eosID: Int?, unknownID: Int?, paddingID: Int?, extraEndIDs: [Int] = [],
                addBOS: Bool = false) throws {
        let count = tokens.count
        guard count > 0, count < Int(Int32.max) else {
            throw TokenizerError.invalidVocabulary("\(count) tokens")
        }
        if let tokenTypes, tokenTypes.count != count {
            throw TokenizerError.invalidVocabulary("\(tokenTypes.count) token types for \(count) tokens")
        }
        func checked(_ id: Int?, _ name: String) throws -> Int32? {
            guard let id else { return nil }
            guard id >= 0, id < count else {
                throw TokenizerError.invalidVocabulary("\(name) token id \(id) is outside the vocabulary of \(count) tokens")
            }
            return Int32(id)
        }
        self.vocabularySize = count
        self.bosID = try checked(bosID, "BOS")
        self.eosID = try checked(eosID, "EOS")
        self.unknownID = try checked(unknownID, "unknown")
        self.paddingID = try checked(paddingID, "padding")
        self.addBOS = addBOS
        self.preTokenizer = preTokenizer
        self.tokens = tokens
        let types = (tokenTypes ?? []).map { TokenType(rawValue: $0) ?? .undefined }
        self.types = types.isEmpty ? [TokenType](repeating: .normal, count: count) : types

        var idByText: [String: Int32] = [:]
        idByText.reserveCapacity(count)
        for (i, token) in tokens.enumerated() where idByText[token] == nil {
            idByText[token] = Int32(i)  // the first of duplicates wins, as in llama.cpp
        }
        self.idByText = idByText

        var byteIDs = [Int32](repeating: -1, count: 256)
        for byte in 0..<256 {
            byteIDs[byte] = idByText[ByteEncoding.encode([UInt8(byte)])] ?? -1
        }
        self.byteIDs = byteIDs

        var table: [UInt64: BPEMerger.Merge] = [:]
        table.reserveCapacity(merges.count)
        for (rank, merge) in merges.enumerated() {
            // "left right": the separator is the first space after the first character.
            let utf8 = merge.utf8
            guard let first = utf8.first else { continue }
            let start = utf8.index(after: utf8.startIndex)
            let space = first == 0x20 ? utf8[start...].firstIndex(of: 0x20) : utf8.firstIndex(of: 0x20)
            guard let space else {
                throw TokenizerError.invalidVocabulary("merge \(rank) '\(merge)' has no space")
            }
            let left = String(merge[..<space])
            let right = String(merge[merge.index(after: space)...])
            // A merge whose parts or result are not in the vocabulary can never produce a token: skip it.
            guard let l = idByText[left], let r = idByText[right], let m = idByText[left + right] else { continue }
            let key = BPEMerger.key(l, r)
            if table[key] == nil { table[key] = BPEMerger.Merge(rank: Int32(rank), merged: m) }
        }
        self.merger = BPEMerger(merges: table)

        var specials: [(bytes: [UInt8], id: Int32, always: Bool)] = []
        var endIDs = Set<Int32>()
        if let eos = self.eosID { endIDs.insert(eos) }
        for id in extraEndIDs { if let checkedID = try checked(id, "end-of-generation") { endIDs.insert(checkedID) } }
        for (i, type) in self.types.enumerated() where type.isSpecial && !tokens[i].isEmpty {
            specials.append((Array(tokens[i].utf8), Int32(i), type == .userDefined))
            if Self.endMarkers.contains(tokens[i]) { endIDs.insert(Int32(i)) }
        }
        specials.sort { $0.bytes.count > $1.bytes.count || ($0.bytes.count == $1.bytes.count && $0.id < $1.id) }
        self.specials = specials
        self.endOfGenerationIDs = endIDs

        var pieceBytes: [UInt8] = []
        var pieceStarts: [Int] = []
        pieceStarts.reserveCapacity(count + 1)
        for (i, token) in tokens.enumerated() {
            pieceStarts.append(pieceBytes.count)
            switch self.types[i] {
            case .control, .userDefined, .unknown:
                pieceBytes.append(contentsOf: token.utf8)
            default:
                for scalar in token.unicodeScalars {
                    if let byte = ByteEncoding.byte(for: scalar.value) {
                        pieceBytes.append(byte)
                    } else {
                        pieceBytes.append(contentsOf: String(scalar).utf8)
                    }
                }
            }
        }
        pieceStarts.append(pieceBytes.count)
        self.pieceBytes = pieceBytes
        self.pieceStarts = pieceStarts
    }

    /// Special-token texts that end a chat turn in the model families Vigil may load.
    static let endMarkers: Set<String> = ["<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|end|>", "<end_of_turn>", "<|eom_id|>"]

    // MARK: - Vocabulary

    /// The vocabulary's spelling of a token (`"Ġhello"`), or nil for an id outside the vocabulary.
    public func tokenText(_ id: Int32) -> String? {
        guard id >= 0, Int(id) < vocabularySize else { return nil }
        return tokens[Int(id)]
    }

    /// The bytes a token stands for (a control token: its text), empty for an id outside the vocabulary.
    public func tokenBytes(_ id: Int32) -> [UInt8] {
        guard id >= 0, Int(id) < vocabularySize else { return [] }
        return Array(pieceBytes[pieceStarts[Int(id)]..<pieceStarts[Int(id) + 1]])
    }

    public func tokenType(_ id: Int32) -> TokenType? {
        guard id >= 0, Int(id) < vocabularySize else { return nil }
        return types[Int(id)]
    }

    /// The id of a special token by its text (`"<|im_end|>"`); nil if the vocabulary has no such special token.
    public func id(ofSpecial text: String) -> Int32? {
        guard let id = idByText[text], types[Int(id)].isSpecial else { return nil }
        return id
    }

    /// The id of any token by its vocabulary spelling.
    public func id(ofToken text: String) -> Int32? { idByText[text] }

    public func isEndOfGeneration(_ id: Int32) -> Bool { endOfGenerationIDs.contains(id) }

    // MARK: - Decoding

    /// The text of `ids`. Control tokens are left out unless `renderSpecial`; ids outside the vocabulary
    /// are skipped; bytes that do not form valid UTF-8 become U+FFFD.
    public func decode(_ ids: [Int32], renderSpecial: Bool = false) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(ids.count * 4)
        for id in ids { appendBytes(of: id, renderSpecial: renderSpecial, to: &bytes) }
        return String(decoding: bytes, as: UTF8.self)
    }

    func appendBytes(of id: Int32, renderSpecial: Bool, to bytes: inout [UInt8]) {
        guard id >= 0, Int(id) < vocabularySize else { return }
        if !renderSpecial && types[Int(id)] == .control { return }
        bytes.append(contentsOf: pieceBytes[pieceStarts[Int(id)]..<pieceStarts[Int(id) + 1]])
    }

    // MARK: - Encoding

    /// Token ids of `text`, without BOS. With `parseSpecial`, special-token text such as `<|im_start|>`
    /// becomes that token; without it, such text is tokenized like any other text.
    public func encode(_ text: String, parseSpecial: Bool) -> [Int32] {
        let utf8 = Array(text.utf8)
        var output: [Int32] = []
        output.reserveCapacity(utf8.count / 3 + 4)
        utf8.withUnsafeBufferPointer { bytes in
            var state = EncodeState()
            for fragment in partition(bytes, parseSpecial: parseSpecial) {
                if fragment.special >= 0 {
                    output.append(fragment.special)
                } else {
                    encodeFragment(UnsafeBufferPointer(rebasing: bytes[fragment.start..<fragment.end]),
                                   state: &state, output: &output)
                }
            }
        }
        return output
    }

    private struct Fragment {
        var start: Int
        var end: Int
        /// The special token id, or -1 for text.
        var special: Int32
    }

    private struct EncodeState {
        var text = ScalarText()
        var ends: [Int] = []
        var symbols: [Int32] = []
        var scratch = BPEMerger.Scratch()
    }

    /// Cuts special tokens out of the text, longest first (llama.cpp's order).
    private func partition(_ bytes: UnsafeBufferPointer<UInt8>, parseSpecial: Bool) -> [Fragment] {
        var fragments = [Fragment(start: 0, end: bytes.count, special: -1)]
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return fragments }
        for special in specials where parseSpecial || special.always {
            var next: [Fragment] = []
            var changed = false
            special.bytes.withUnsafeBytes { needle in
                for fragment in fragments {
                    guard fragment.special < 0 else { next.append(fragment); continue }
                    var start = fragment.start
                    while start < fragment.end,
                          let at = Self.find(needle, in: base, from: start, to: fragment.end) {
                        if at > start { next.append(Fragment(start: start, end: at, special: -1)) }
                        next.append(Fragment(start: at, end: at + needle.count, special: special.id))
                        start = at + needle.count
                        changed = true
                    }
                    if start < fragment.end { next.append(Fragment(start: start, end: fragment.end, special: -1)) }
                }
            }
            if changed { fragments = next }
        }
        return fragments
    }

    /// First occurrence of `needle` in `base[from..<to]`.
    private static func find(_ needle: UnsafeRawBufferPointer, in base: UnsafePointer<UInt8>, from: Int, to: Int) -> Int? {
        guard let first = needle.first, let needleBase = needle.baseAddress, needle.count <= to - from else { return nil }
        var start = from
        let last = to - needle.count  // the last place a match can begin
        while start <= last {
            guard let hit = memchr(base + start, Int32(first), last - start + 1) else { return nil }
            let at = start + (UnsafeRawPointer(hit) - UnsafeRawPointer(base + start))
            if memcmp(base + at, needleBase, needle.count) == 0 { return at }
            start = at + 1
        }
        return nil
    }

    private func encodeFragment(_ bytes: UnsafeBufferPointer<UInt8>, state: inout EncodeState, output: inout [Int32]) {
        state.text.load(bytes)
        state.ends.removeAll(keepingCapacity: true)
        PreTokenizerSplitter(rule: preTokenizer).split(state.text, into: &state.ends)
        var pieceStart = 0
        for end in state.ends {
            let from = state.text.byteOffsets[pieceStart]
            let to = state.text.byteOffsets[end]
            pieceStart = end
            if preTokenizer == .llama3, to - from > 1,
               let whole = idByText[ByteEncoding.encode(bytes[from..<to])] {
                output.append(whole)
                continue
            }
            state.symbols.removeAll(keepingCapacity: true)
            for i in from..<to { state.symbols.append(byteIDs[Int(bytes[i])]) }
            let first = output.count
            state.symbols.withUnsafeBufferPointer { symbols in
                merger.merge(symbols, scratch: &state.scratch, output: &output)
            }
            // A byte the vocabulary cannot spell becomes the unknown token, or is dropped.
            if output[first...].contains(where: { $0 < 0 }) {
                let fixed = output[first...].compactMap { $0 >= 0 ? $0 : unknownID }
                output.removeSubrange(first...)
                output.append(contentsOf: fixed)
            }
        }
    }
}
