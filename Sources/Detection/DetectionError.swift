/// Errors of the Detection module: input from outside that could not be used.
public struct DetectionError: Error, CustomStringConvertible, Equatable {
    public enum Code: String, Sendable {
        /// A CSV file that cannot be scored (no header, a missing column, ...).
        case invalidTable
        /// A saved detector state that is corrupt, of another version or of another catalog.
        case invalidState
        /// A benchmark corpus that is absent or malformed.
        case invalidDataset
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
