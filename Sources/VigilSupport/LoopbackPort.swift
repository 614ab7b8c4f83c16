#if canImport(Glibc)
import Glibc
#endif
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
        guard let port = try bindable(0) else { throw Failure(description: "bind(): \(String(cString: strerror(errno)))") }
        return port
    }

    /// Whether something accepts TCP connections on 127.0.0.1:`port`.
    public static func accepts(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = loopback(port)
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        return rc == 0
    }

    private static let handedOut = Locked<Set<Int>>([])

    /// Binds 127.0.0.1:`port` and releases it; the port bound, or nil where it is taken.
    private static func bindable(_ port: Int) throws -> Int? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket(): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var address = loopback(port)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { return nil }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { throw Failure(description: "getsockname(): \(String(cString: strerror(errno)))") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// The first port of the kernel's ephemeral range (Linux's default where it cannot be read).
    private static func ephemeralRangeStart() -> Int {
        let text = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8)) ?? ""
        return text.split(whereSeparator: \.isWhitespace).first.flatMap { Int($0) } ?? 32_768
    }

    private static func loopback(_ port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        return address
    }
}
