/// Why the engine could not load a model or run a request.
public enum MicroLMError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The model file lacks a metadata key the architecture needs, or holds a bad value.
    case badMetadata(key: String, reason: String)
    /// A tensor is missing, has the wrong shape, or a type the kernels do not implement.
    case badTensor(name: String, reason: String)
    /// The file's architecture is not one this engine runs.
    case unsupportedArchitecture(String)
    /// A token id outside the vocabulary.
    case invalidToken(Int)
    /// The request needs more positions than the session's context holds.
    case contextFull(needed: Int, capacity: Int)
    /// Another call is running on the same session.
    case sessionBusy
    /// An empty prompt where tokens are required.
    case emptyPrompt
    /// The file could not be read or the tokenizer could not be built.
    case cannotLoad(path: String, reason: String)

    public var description: String {
        switch self {
        case let .badMetadata(key, reason): return "model metadata '\(key)': \(reason)"
        case let .badTensor(name, reason): return "tensor '\(name)': \(reason)"
        case let .unsupportedArchitecture(arch): return "architecture '\(arch)' is not supported (llama family only)"
        case let .invalidToken(id): return "token id \(id) is outside the vocabulary"
        case let .contextFull(needed, capacity): return "context full: \(needed) positions needed, \(capacity) available"
        case .sessionBusy: return "the session is already running a request"
        case .emptyPrompt: return "the prompt has no tokens"
        case let .cannotLoad(path, reason): return "cannot load model '\(path)': \(reason)"
        }
    }
}
