import Foundation
import Logging
import Synchronization

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

/// Saves snapshots of the open upstream incidents off the caller's task: `submit` returns at once, a
/// background task writes the newest snapshot as soon as the previous write is done (snapshots that
/// arrive meanwhile are coalesced into the newest; none is written out of order). `flush` waits until
/// the last one submitted is on disk.
final class UpstreamIncidentWriter: Sendable {
    let file: UpstreamIncidentFile
    let logger: Logger
    private let state = Mutex<(pending: [UpstreamDistiller.Open]?, writing: Bool)>((nil, false))

    init(file: UpstreamIncidentFile, logger: Logger) {
        self.file = file
        self.logger = logger
    }

    func submit(_ incidents: [UpstreamDistiller.Open]) {
        let start = state.withLock { s -> Bool in
            s.pending = incidents
            guard !s.writing else { return false }
            s.writing = true
            return true
        }
        if start { Task.detached { [self] in drain() } }
    }

    private func drain() {
        while true {
            let next = state.withLock { s -> [UpstreamDistiller.Open]? in
                guard let p = s.pending else {
                    s.writing = false
                    return nil
                }
                s.pending = nil
                return p
            }
            guard let next else { return }
            do {
                try file.save(next)
            } catch {
                logger.error("cannot save the open upstream incidents", metadata: ["path": "\(file.path)", "error": "\(error)"])
            }
        }
    }

    /// Waits until the newest snapshot submitted so far has been written (or failed to be).
    func flush() async {
        while state.withLock({ $0.writing || $0.pending != nil }) {
            try? await Task.sleep(for: .milliseconds(5))
        }
    }
}
