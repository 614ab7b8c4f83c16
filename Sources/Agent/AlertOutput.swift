import Foundation

/// Alerts as JSON lines to a file or standard output.
public final class AlertOutput {
    private let handle: FileHandle?
    private var buffer: [UInt8] = []

    /// `path` nil writes to standard output; `quiet` writes nothing.
    public init(path: String?, quiet: Bool = false) throws {
        if quiet {
            handle = nil
        } else if let path {
            guard FileManager.default.createFile(atPath: path, contents: nil), let h = FileHandle(forWritingAtPath: path) else {
                throw AgentError("cannot create `\(path)`")
            }
            handle = h
        } else {
            handle = FileHandle.standardOutput
        }
    }

    public func write(_ alert: AlertMessage) throws {
        guard let handle else { return }
        buffer.append(contentsOf: try alert.jsonBytes())
        buffer.append(0x0A)
        if buffer.count > 1 << 15 {
            try handle.write(contentsOf: buffer)
            buffer.removeAll(keepingCapacity: true)
        }
    }

    public func close() throws {
        guard let handle else { return }
        try handle.write(contentsOf: buffer)
        buffer.removeAll()
        if handle !== FileHandle.standardOutput { try handle.close() }
    }
}

/// Errors of the Agent module that a user can act on.
public struct AgentError: Error, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
