/// Errors of the Telemetry module: input that came from outside and could not be used.
public struct TelemetryError: Error, CustomStringConvertible, Equatable {
    public enum Code: String, Sendable {
        case unreadableFile
        case invalidCatalog
        case invalidRecording
        case invalidLabels
        case invalidConfiguration
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
