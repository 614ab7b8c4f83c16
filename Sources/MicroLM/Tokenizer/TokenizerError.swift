/// Why a tokenizer could not be built from a model file.
public enum TokenizerError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A metadata key the tokenizer needs is absent or has the wrong type.
    case missingKey(String)
    /// `tokenizer.ggml.model` names a tokenizer other than byte-level BPE (`gpt2`).
    case unsupportedModel(String)
    /// `tokenizer.ggml.pre` names a pre-tokenizer this implementation does not have.
    case unsupportedPreTokenizer(String)
    /// The vocabulary or merges are inconsistent (wrong lengths, ids out of range, duplicates...).
    case invalidVocabulary(String)

    public var description: String {
        switch self {
        case let .missingKey(key):
            return "tokenizer: metadata key '\(key)' is missing or has the wrong type"
        case let .unsupportedModel(model):
            return "tokenizer: unsupported tokenizer model '\(model)' (only byte-level BPE, 'gpt2', is supported)"
        case let .unsupportedPreTokenizer(pre):
            return "tokenizer: unsupported pre-tokenizer '\(pre)' (supported: \(PreTokenizer.supportedNames.joined(separator: ", ")))"
        case let .invalidVocabulary(reason):
            return "tokenizer: invalid vocabulary: \(reason)"
        }
    }
}
