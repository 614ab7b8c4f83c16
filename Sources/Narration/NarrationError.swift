/// Errors of the Narration module (reading evaluation files, model failures reported by adapters).
public struct NarrationError: Error, CustomStringConvertible, Equatable {
    public enum Code: String, Sendable {
        case invalidEvent
        case invalidFile
        case model
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
