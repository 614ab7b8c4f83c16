/// Errors of the Agent module that a user can act on.
public struct AgentError: Error, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
