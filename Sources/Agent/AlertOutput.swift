import Foundation

/// Alerts as JSON lines to a file or standard output.
public final class AlertOutput {
    private let handle: FileHandle?
    private var buffer: [UInt8] = []
    private let text: Bool

    /// `path` nil writes to standard output; `quiet` keeps alerts off standard output (a file named
    /// by `path` is still written); `text` writes one line per alert for people instead of JSON.
    public init(path: String?, quiet: Bool = false, text: Bool = false) throws {
        self.text = text
        if let path {
            guard FileManager.default.createFile(atPath: path, contents: nil), let h = FileHandle(forWritingAtPath: path) else {
                throw AgentError("cannot create `\(path)`")
            }
            handle = h
        } else if quiet {
            handle = nil
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

/// Text for a terminal: control characters (ESC, C1, newlines, NUL, ...) that came from outside
/// (sensor names, model text) are written as `\u{1B}` escapes, so a name cannot move the cursor,
/// recolour the screen or forge a line.
public enum TerminalText {
    public static func escaped(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: isControl) else { return text }
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            if isControl(scalar) {
                out.append(contentsOf: "\\u{\(String(scalar.value, radix: 16, uppercase: true))}".unicodeScalars)
            } else {
                out.append(scalar)
            }
        }
        return String(out)
    }

    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value) || (0x2028...0x202E).contains(scalar.value) || (0x2066...0x2069).contains(scalar.value)
    }
}

extension AlertMessage {
    /// `07:10:12  OPENED   warning   P-101 suction pressure · level shift  [model]  text`
    public var humanLine: String {
        let time = String(detectedAt.dropFirst(11).prefix(8))
        let stageWord = stage == "opened" ? "OPENED  " : "resolved"
        let severityWord = severity.padding(toLength: 8, withPad: " ", startingAt: 0)
        let e = TerminalText.escaped
        return "\(e(time))  \(stageWord) \(e(severityWord)) \(e(sensorName)) · \(e(kind.replacingOccurrences(of: "_", with: " ")))  [\(e(narrative.source.rawValue))]\n          \(e(narrative.text))"
    }
}
