import Foundation

/// The upstream incidents open now, saved next to the outbox whenever one opens, escalates or
/// resolves, so that after a crash the next start resolves (or keeps) what was left open instead of
/// leaving it open upstream for ever. Written to a temporary file and renamed over the old one.
public struct UpstreamIncidentFile: Sendable {
    public let path: String

    public init(path: String) {
        self.path = path
    }

    /// The file beside the outbox database.
    public init(besideOutbox outboxPath: String) {
        path = URL(fileURLWithPath: outboxPath).deletingLastPathComponent().appendingPathComponent("upstream-incidents.json").path
    }

    public func save(_ incidents: [UpstreamDistiller.Open]) throws {
        let data = try JSONEncoder().encode(incidents)
        try data.write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    /// Nil when there is no file; an unreadable one is an error (the caller logs it and starts afresh).
    public func load() throws -> [UpstreamDistiller.Open]? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        return try JSONDecoder().decode([UpstreamDistiller.Open].self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }
}
