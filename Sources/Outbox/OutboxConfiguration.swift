/// What the outbox does when a new event would exceed `maxRows` or `maxBytes`, or the disk is full.
public enum OutboxFullPolicy: String, Sendable, CaseIterable, Codable {
    /// Delete the oldest stored event of the lowest severity to make room. When the new event's
    /// severity is lower than every stored one, the new event is the one dropped. (Default.)
    case dropOldestLowestSeverity = "drop-oldest-lowest-severity"
    /// Keep what is stored; the new event is dropped.
    case dropNewest = "drop-newest"
    /// `enqueue` waits (in order, cancellably) until delivered events free enough room.
    case block
}

/// The settings of one outbox. Every limit is enforced at enqueue time; every drop is counted.
public struct OutboxConfiguration: Sendable {
    /// The SQLite database file. Its folder must exist and be writable.
    public var path: String
    /// Most events stored at once.
    public var maxRows: Int
    /// Most bytes stored at once, counting topic, key and payload of each event.
    public var maxBytes: Int
    /// Events older than this (by `createdAt`) are dropped, counted as `.maxAge`, never sent.
    public var maxAge: Duration
    public var fullPolicy: OutboxFullPolicy
    /// Most messages handed to the transport and not yet acknowledged.
    public var maxInFlight: Int
    /// Cap on payload bytes handed to the transport per second (a token bucket holding one
    /// second's worth); nil for no cap.
    public var maxBytesPerSecond: Int?
    /// When true, events produced while the link is up go out ahead of the backlog.
    /// When false, everything goes in strict sequence order.
    public var liveFirst: Bool
    /// Optional hard cap on the database file (SQLite's `max_page_count`). Reaching it gives the
    /// same SQLITE_FULL as a full disk and is handled the same way.
    public var maxFileBytes: Int?
    /// Wall clock in milliseconds since 1970, used for `createdAt`, ages and a new file's first
    /// sequence number. Injected so tests and replay can drive it.
    public var now: @Sendable () -> Int64
    /// Pause after a failed send before trying again, doubling up to `maxRetryDelay`.
    public var retryDelay: Duration
    public var maxRetryDelay: Duration

    public init(
        path: String,
        maxRows: Int = 1_000_000,
        maxBytes: Int = 512 * 1024 * 1024,
        maxAge: Duration = .seconds(7 * 24 * 3600),
        fullPolicy: OutboxFullPolicy = .dropOldestLowestSeverity,
        maxInFlight: Int = 32,
        maxBytesPerSecond: Int? = nil,
        liveFirst: Bool = true,
        maxFileBytes: Int? = nil,
        retryDelay: Duration = .milliseconds(100),
        maxRetryDelay: Duration = .seconds(10),
        now: @escaping @Sendable () -> Int64 = OutboxConfiguration.systemMilliseconds
    ) {
        self.path = path
        self.maxRows = maxRows
        self.maxBytes = maxBytes
        self.maxAge = maxAge
        self.fullPolicy = fullPolicy
        self.maxInFlight = maxInFlight
        self.maxBytesPerSecond = maxBytesPerSecond
        self.liveFirst = liveFirst
        self.maxFileBytes = maxFileBytes
        self.retryDelay = retryDelay
        self.maxRetryDelay = maxRetryDelay
        self.now = now
    }

    /// Milliseconds since 1970 from the system's real-time clock.
    @Sendable public static func systemMilliseconds() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000
    }

    /// Checks the values; throws `OutboxError.invalidConfiguration` naming the key.
    public func validate() throws(OutboxError) {
        func fail(_ key: String, _ expected: String) -> OutboxError {
            .invalidConfiguration("outbox.\(key): expected \(expected)")
        }
        if path.isEmpty { throw fail("path", "a file path") }
        if maxRows < 1 { throw fail("maxRows", "at least 1") }
        if maxBytes < 1 { throw fail("maxBytes", "at least 1") }
        if maxAge <= .zero { throw fail("maxAge", "a positive duration") }
        if maxInFlight < 1 { throw fail("maxInFlight", "at least 1") }
        if let rate = maxBytesPerSecond, rate < 1 { throw fail("maxBytesPerSecond", "at least 1 or none") }
        if let file = maxFileBytes, file < 64 * 1024 { throw fail("maxFileBytes", "at least 65536 or none") }
        if retryDelay <= .zero || maxRetryDelay < retryDelay {
            throw fail("retryDelay", "positive and not above maxRetryDelay")
        }
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
