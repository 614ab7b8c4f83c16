import Foundation
import VigilSupport

/// Thrown when no mosquitto broker can be started here; tests skip on it.
public struct MosquittoUnavailable: Error, CustomStringConvertible {
    public let reason: String
    public var description: String { "mosquitto is not available: \(reason)" }
}

/// A broker that was found but failed to start or to listen.
public struct MosquittoBrokerError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

/// A real `mosquitto` on free loopback ports, with a generated configuration in a
/// temporary directory. Stopped and cleaned up in `deinit`.
///
/// ```swift
/// let broker = try MosquittoBroker()            // throws MosquittoUnavailable without mosquitto
/// let config = MQTTConfiguration(host: "127.0.0.1", port: broker.port)
/// broker.kill(); try broker.restart()           // same port
/// ```
public final class MosquittoBroker: @unchecked Sendable {
    // @unchecked: `pid` is guarded by `lock`.

    /// A TLS listener next to the plain one.
    public struct TLSListener: Sendable {
        public var caFile: String
        public var certificateFile: String
        public var keyFile: String
        /// Require clients to present a certificate signed by `caFile`.
        public var requireClientCertificate: Bool

        public init(caFile: String, certificateFile: String, keyFile: String, requireClientCertificate: Bool = false) {
            self.caFile = caFile
            self.certificateFile = certificateFile
            self.keyFile = keyFile
            self.requireClientCertificate = requireClientCertificate
        }
    }

    public struct Options: Sendable {
        public var tls: TLSListener?
        /// A mosquitto password file (see `MosquittoBroker.makePasswordFile`).
        public var passwordFile: String?
        public var allowAnonymous: Bool
        /// Keep retained messages and persistent sessions in the broker's directory across
        /// `stop()`/`restart()` (mosquitto saves on a clean stop; `kill()` loses what was not saved).
        public var persistence: Bool
        /// Further lines for mosquitto.conf.
        public var extraConfiguration: [String]

        public init(
            tls: TLSListener? = nil, passwordFile: String? = nil, allowAnonymous: Bool = true,
            persistence: Bool = false, extraConfiguration: [String] = []
        ) {
            self.persistence = persistence
            self.tls = tls
            self.passwordFile = passwordFile
            self.allowAnonymous = allowAnonymous
            self.extraConfiguration = extraConfiguration
        }
    }

    /// `$VIGIL_MOSQUITTO`, else /usr/sbin/mosquitto.
    public static var executable: String {
        ProcessInfo.processInfo.environment["VIGIL_MOSQUITTO"] ?? "/usr/sbin/mosquitto"
    }

    /// Whether `executable` exists and can be run.
    public static var isAvailable: Bool {
        FileManager.default.isExecutableFile(atPath: executable)
    }

    public let options: Options
    /// The plain MQTT listener on 127.0.0.1.
    public private(set) var port: Int
    /// The TLS listener on 127.0.0.1, when `options.tls` is set.
    public private(set) var tlsPort: Int?
    /// Holds mosquitto.conf and mosquitto.log.
    public let directory: TemporaryDirectory
    public let host = "127.0.0.1"

    private let lock = NSLock()
    private var pid: pid_t?

    public var url: String { "mqtt://\(host):\(port)" }
    public var tlsURL: String? { tlsPort.map { "mqtts://\(host):\($0)" } }
    public var configurationFile: String { directory.file("mosquitto.conf").path }
    public var logFile: String { directory.file("mosquitto.log").path }

    /// The broker's log so far (for failure messages).
    public var log: String { (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "" }

    /// Starts the broker and returns once it accepts connections.
    public init(options: Options = Options()) throws {
        guard Self.isAvailable else {
            throw MosquittoUnavailable(reason: "\(Self.executable) is not installed (apt-get install mosquitto)")
        }
        self.options = options
        directory = try TemporaryDirectory(prefix: "vigil-mosquitto")
        port = 0
        // A port found free can be taken by someone else before mosquitto binds it:
        // pick new ports and try again.
        var attempt = 0
        while true {
            port = try Self.freePort()
            tlsPort = nil
            if options.tls != nil {
                var other = try Self.freePort()
                while other == port { other = try Self.freePort() }
                tlsPort = other
            }
            try writeConfiguration()
            try? FileManager.default.removeItem(atPath: logFile)
            do {
                try start()
                return
            } catch let error as MosquittoBrokerError where attempt < 5 && error.message.contains("in use") {
                attempt += 1
            }
        }
    }

    deinit {
        kill()
    }

    private func writeConfiguration() throws {
        var lines = [
            "# Generated by VigilTestSupport.MosquittoBroker",
            "per_listener_settings false",
            "allow_anonymous \(options.allowAnonymous)",
            "persistence \(options.persistence)",
            "persistence_location \(directory.path)/",
            "log_dest file \(logFile)",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "log_type information",
            "connection_messages true",
            "max_queued_messages 100000",
        ]
        if geteuid() == 0 { lines.append("user root") }
        if let passwordFile = options.passwordFile { lines.append("password_file \(passwordFile)") }
        lines += ["", "listener \(port) \(host)"]
        if let tls = options.tls, let tlsPort {
            lines += [
                "", "listener \(tlsPort) \(host)",
                "cafile \(tls.caFile)",
                "certfile \(tls.certificateFile)",
                "keyfile \(tls.keyFile)",
                "require_certificate \(tls.requireClientCertificate)",
            ]
        }
        lines += options.extraConfiguration
        try directory.write(lines.joined(separator: "\n") + "\n", to: "mosquitto.conf")
    }

    private func start() throws {
        let pid = try MosquittoSpawn.start(Self.executable, ["-c", configurationFile], outputFile: logFile)
        lock.withLock { self.pid = pid }
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if let status = MosquittoSpawn.poll(pid) {
                lock.withLock { self.pid = nil }
                throw MosquittoBrokerError(message: "mosquitto exited with status \(status) at start:\n\(log)")
            }
            if Self.accepts(port: port) && (tlsPort.map(Self.accepts(port:)) ?? true) { return }
            usleep(10_000)
        }
        kill()
        throw MosquittoBrokerError(message: "mosquitto did not listen on \(port) within 10 s:\n\(log)")
    }

    /// Whether the broker process is running.
    public var isRunning: Bool { lock.withLock { pid != nil } }

    /// SIGTERM and wait: a clean broker shutdown.
    public func stop() { terminate(signal: SIGTERM) }

    /// SIGKILL and wait: the broker dies without saying goodbye to its clients.
    public func kill() { terminate(signal: SIGKILL) }

    /// Starts the broker again on the same ports (after `stop()` or `kill()`).
    public func restart() throws {
        terminate(signal: SIGTERM)
        var lastError: Error?
        // The port can be briefly unavailable after a kill; try a few times.
        for _ in 0..<20 {
            do {
                try start()
                return
            } catch {
                lastError = error
                usleep(100_000)
            }
        }
        throw lastError ?? MosquittoBrokerError(message: "restart failed")
    }

    /// SIGSTOP: the broker freezes with its connections open (no acks, no pings).
    public func pause() { signal(SIGSTOP) }

    /// SIGCONT after `pause()`.
    public func resume() { signal(SIGCONT) }

    private func signal(_ signal: Int32) {
        lock.withLock {
            if let pid { _ = Foundation.kill(pid, signal) }
        }
    }

    private func terminate(signal: Int32) {
        let pid: pid_t? = lock.withLock {
            defer { self.pid = nil }
            return self.pid
        }
        guard let pid else { return }
        _ = Foundation.kill(pid, signal)
        if signal != SIGKILL {
            _ = Foundation.kill(pid, SIGCONT)
            // A broker that does not stop within 5 s (stuck, or signals blocked) is killed:
            // a test kit must never hang.
            let deadline = Date().addingTimeInterval(5)
            while Date() < deadline {
                if MosquittoSpawn.poll(pid) != nil { return }
                usleep(5_000)
            }
            _ = Foundation.kill(pid, SIGKILL)
        }
        MosquittoSpawn.wait(pid)
    }

    // MARK: Helpers

    /// A free TCP port on 127.0.0.1, never handed out twice in this process (see `LoopbackPort.free`).
    public static func freePort() throws -> Int {
        do { return try LoopbackPort.free() } catch { throw MosquittoBrokerError(message: "\(error)") }
    }

    /// Whether something accepts TCP connections on 127.0.0.1:`port`.
    public static func accepts(port: Int) -> Bool { LoopbackPort.accepts(port) }

    /// Writes a mosquitto password file for `users` (name → password) with `mosquitto_passwd`.
    public static func makePasswordFile(users: [String: String], in directory: TemporaryDirectory) throws -> String {
        let tool = "/usr/bin/mosquitto_passwd"
        guard FileManager.default.isExecutableFile(atPath: tool) else {
            throw MosquittoUnavailable(reason: "\(tool) is not installed")
        }
        let path = directory.file("passwords").path
        for (index, (user, password)) in users.sorted(by: { $0.key < $1.key }).enumerated() {
            let create = index == 0 ? ["-c"] : []
            try MosquittoSpawn.run(tool, create + ["-b", path, user, password], in: directory)
        }
        return path
    }
}
