import Foundation
import Logging
import Outbox
import Testing

/// A fresh folder under the system's temporary directory, removed by `remove()`.
struct TemporaryDirectory {
    let path: String

    init() throws {
        let base = FileManager.default.temporaryDirectory.path
        path = "\(base)/vigil-outbox-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    var database: String { "\(path)/outbox.db" }

    func files() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// Polls `condition` until it holds; fails the test after `timeout` instead of hanging.
func eventually(
    _ what: String, timeout: Duration = .seconds(30), sourceLocation: SourceLocation = #_sourceLocation,
    _ condition: () async -> Bool
) async {
    let clock = ContinuousClock()
    let deadline = clock.now.advanced(by: timeout)
    while clock.now < deadline {
        if await condition() { return }
        try? await Task.sleep(for: .milliseconds(5))
    }
    Issue.record("timed out waiting for: \(what)", sourceLocation: sourceLocation)
}

/// Collects log records so tests can check that something was said loudly.
final class CapturedLog: @unchecked Sendable {
    private let lock = NSLock()
    private var records: [(Logger.Level, String)] = []

    func append(_ level: Logger.Level, _ message: String) {
        lock.lock()
        records.append((level, message))
        lock.unlock()
    }

    func messages(atLeast level: Logger.Level) -> [String] {
        lock.lock()
        defer { lock.unlock() }
        return records.filter { $0.0 >= level }.map(\.1)
    }

    var logger: Logger {
        Logger(label: "test.outbox") { _ in CapturedLogHandler(sink: self) }
    }
}

struct CapturedLogHandler: LogHandler {
    let sink: CapturedLog
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let extra = (event.metadata ?? [:]).map { "\($0.key)=\($0.value)" }.sorted().joined(separator: " ")
        sink.append(event.level, "\(event.message) \(extra)")
    }
}

/// A wall clock the test moves by hand.
final class ManualWallClock: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Int64

    init(_ start: Int64 = 1_800_000_000_000) { value = start }

    var now: Int64 {
        lock.lock()
        defer { lock.unlock() }
        return value
    }

    func advance(milliseconds: Int64) {
        lock.lock()
        value += milliseconds
        lock.unlock()
    }
}

extension OutboxConfiguration {
    /// Test defaults: short retry delays.
    static func test(_ path: String) -> OutboxConfiguration {
        OutboxConfiguration(path: path, retryDelay: .milliseconds(10), maxRetryDelay: .milliseconds(50))
    }
}

func payload(_ text: String) -> [UInt8] { Array(text.utf8) }

/// A value behind a pthread mutex, so ThreadSanitizer runs of these tests see its ordering.
final class Protected<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
