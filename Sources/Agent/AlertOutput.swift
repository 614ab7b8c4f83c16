import Foundation

/// Alerts as JSON lines to a file or standard output.
public final class AlertOutput {
    private let handle: FileHandle?
    private var buffer: [UInt8] = []
    private let text: Bool

    /// `path` nil writes to standard output; `quiet` writes nothing; `text` writes one line per alert
    /// for people instead of JSON.
    public init(path: String?, quiet: Bool = false, text: Bool = false) throws {
        self.text = text
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
        if text {
            buffer.append(contentsOf: Array(alert.humanLine.utf8))
        } else {
            buffer.append(contentsOf: try alert.jsonBytes())
        }
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

extension AlertMessage {
    /// `07:10:12  OPENED   warning   P-101 suction pressure · level shift  [model]  text`
    public var humanLine: String {
        let time = String(detectedAt.dropFirst(11).prefix(8))
        let stageWord = stage == "opened" ? "OPENED  " : "resolved"
        let severityWord = severity.padding(toLength: 8, withPad: " ", startingAt: 0)
        return "\(time)  \(stageWord) \(severityWord) \(sensorName) · \(kind.replacingOccurrences(of: "_", with: " "))  [\(narrative.source)]\n          \(narrative.text)"
    }
}
