import Foundation

/// Free TCP ports on 127.0.0.1 for the brokers a benchmark or a test starts, and whether one listens yet.
public enum LoopbackPort {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// A port that was free a moment ago (bound and released).
    ///
    /// It is drawn at random from below the kernel's ephemeral range: a port the kernel hands out for `bind(0)`
    /// is also what every outgoing connection of a busy machine takes, so one found free there is often gone
    /// again before the broker binds it. A port is handed out once per process: two brokers started at the
    /// same time never get the same one, even before either has bound it.
    public static func free() throws -> Int {
        let ephemeralLow = ephemeralRangeStart()
        if ephemeralLow > 12_000 {
            for _ in 0..<64 {
                let candidate = Int.random(in: 10_000..<ephemeralLow)
                guard handedOut.withLock({ $0.insert(candidate).inserted }) else { continue }
                if try bindable(candidate) != nil { return candidate }
            }
        }
        guard let port = try bindable(0) else { throw Failure(description: "cannot bind a loopback port") }
        return port
    }

    /// Whether something accepts TCP connections on 127.0.0.1:`port`.
    public static func accepts(_ port: Int) -> Bool {
        SystemCalls.accepts(.loopback(UInt16(port)))
    }

    private static let handedOut = Locked<Set<Int>>([])

    /// Binds 127.0.0.1:`port` and releases it; the port bound, or nil where it is taken.
    private static func bindable(_ port: Int) throws -> Int? {
        do {
            return try SystemCalls.probeBind(.loopback(UInt16(port))).map(Int.init)
        } catch {
            throw Failure(description: "\(error)")
        }
    }

    /// The first port of the kernel's ephemeral range (Linux's default where it cannot be read).
    private static func ephemeralRangeStart() -> Int {
        let text = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)) ?? ""
        return text.split(whereSeparator: \.isWhitespace).first.flatMap { Int($0) } ?? 32_768
    }
}
