/// The kind of a vocabulary entry (`tokenizer.ggml.token_type`, llama.cpp's numbering).
public enum TokenType: Int, Sendable {
    case undefined = 0
    case normal = 1
    case unknown = 2
    /// A control token (`<|im_start|>`, `<|endoftext|>`): parsed from text only with `parseSpecial`.
    case control = 3
    /// A user-defined token: always parsed from text as one token.
    case userDefined = 4
    case unused = 5
    case byte = 6

    /// Tokens matched as a whole in text before pre-tokenization.
    var isSpecial: Bool { self == .control || self == .userDefined || self == .unknown }
}
