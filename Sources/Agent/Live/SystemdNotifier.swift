#if canImport(Glibc)
import Glibc
#endif
import Logging
import ServiceLifecycle
import VigilSupport

/// The systemd notification protocol (sd_notify(3)) over a plain datagram socket: `READY=1` when
/// the agent's services have started, `WATCHDOG=1` at half the unit's `WatchdogSec=`, a `STATUS=`
/// line, and `STOPPING=1` when a graceful shutdown begins. Without `$NOTIFY_SOCKET` (not started by
/// systemd, or a unit that is not `Type=notify`) every call does nothing.
public struct SystemdNotifier: Sendable {
    /// The socket address from `$NOTIFY_SOCKET`: a path, or `@name` for the abstract namespace.
    public let socketPath: String?
    /// Half of `$WATCHDOG_USEC` when the watchdog is meant for this process (`$WATCHDOG_PID`).
    public let watchdogInterval: Duration?

    public init(environment: [String: String]) {
        let path = environment["NOTIFY_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
        socketPath = path
        var interval: Duration?
        if path != nil, let text = environment["WATCHDOG_USEC"], let usec = UInt64(text), usec > 0 {
            let forUs = environment["WATCHDOG_PID"].map { Int32($0) == SystemCalls.processID } ?? true
            if forUs { interval = .microseconds(Int64(clamping: usec / 2)) }
        }
        watchdogInterval = interval
    }

    /// Sends one message (lines of `KEY=value`); returns false when there is no socket or it failed.
    @discardableResult
    public func notify(_ state: String) -> Bool { (try? send(state)) != nil }

    /// Sends one message (lines of `KEY=value`), or says why it could not.
    public func send(_ state: String) throws(SystemError) {
        guard let path = socketPath, path.hasPrefix("/") || path.hasPrefix("@") else {
            throw SystemError("NOTIFY_SOCKET `\(socketPath ?? "")` is neither a path nor @name", errno: EINVAL)
        }
        try SystemCalls.sendDatagram(Array(state.utf8), toUnixSocket: path)
    }
}

/// Tells systemd the agent is ready, feeds its watchdog while the agent's tasks still get scheduled,
/// reports a one-line status, and says `STOPPING=1` as soon as a graceful shutdown begins. List it
/// last in the service group: services stop in reverse order, so it is the first to hear of a
/// shutdown. Without `$NOTIFY_SOCKET` it only waits for the shutdown.
public struct SystemdNotifierService: Service {
    let notifier: SystemdNotifier
    let status: @Sendable () -> String
    let logger: Logger

    /// `status` gives the `STATUS=` text (e.g. whether the local broker is connected); it is sent
    /// when it changes.
    public init(notifier: SystemdNotifier, status: @escaping @Sendable () -> String, logger: Logger) {
        self.notifier = notifier
        self.status = status
        self.logger = logger
    }

    public func run() async throws {
        guard notifier.socketPath != nil else {
            try? await gracefulShutdown()
            return
        }
        var last = status()
        do {
            try notifier.send("READY=1\nSTATUS=\(last)")
            logger.debug("systemd notified: ready", metadata: [
                "watchdog": "\(notifier.watchdogInterval.map { "\($0)" } ?? "off")",
            ])
        } catch {
            logger.warning("NOTIFY_SOCKET is set but systemd could not be notified", metadata: [
                "socket": "\(notifier.socketPath ?? "")", "error": "\(error)",
            ])
        }
        // Without a watchdog, look at the status every 5 s; with one, at half its period.
        let tick = notifier.watchdogInterval.map { min($0, .seconds(5)) } ?? .seconds(5)
        var sinceWatchdog = Duration.zero
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: tick) }
            if Task.isShuttingDownGracefully || Task.isCancelled { break }
            let now = status()
            var message: [String] = []
            if now != last { message.append("STATUS=\(now)"); last = now }
            sinceWatchdog += tick
            if let interval = notifier.watchdogInterval, sinceWatchdog >= interval || tick == interval {
                message.append("WATCHDOG=1")
                sinceWatchdog = .zero
            }
            if !message.isEmpty { notifier.notify(message.joined(separator: "\n")) }
        }
        notifier.notify("STOPPING=1\nSTATUS=stopping")
        logger.debug("systemd notified: stopping")
    }
}
