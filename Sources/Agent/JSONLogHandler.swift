import Foundation
import Logging
import Synchronization
import Telemetry
import VigilSupport

/// One JSON object per line on standard error, for journald and log shippers
/// (`logging.format: json`). The executable bootstraps it; libraries only log.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    private let label: String
    private static let lock = Mutex(())

    public init(label: String) {
        self.label = label
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        let level = event.level
        let message = event.message
        var extra = event.metadata ?? [:]
        if let error = event.error { extra["error"] = "\(error)" }
        var fields: [(String, String)] = [
            ("ts", rfc3339(Date())), ("level", level.rawValue), ("logger", label), ("msg", message.description),
        ]
        let merged = metadata.merging(extra) { $1 }
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) { fields.append((key, "\(value)")) }
        let line = "{" + fields.map { "\(JSONText.quoted($0.0)):\(JSONText.quoted($0.1))" }.joined(separator: ",") + "}\n"
        Self.lock.withLock { _ in FileHandle.standardError.write(Data(line.utf8)) }
    }
}
