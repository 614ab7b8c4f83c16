#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A system call that failed: which call, on what, and `errno`. The one error type for the system calls
/// below; callers wrap it in their own module's error with what they were doing.
public struct SystemError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What was attempted, e.g. "cannot create /var/lib/vigil/detector-state.tmp-42".
    public let action: String
    public let errno: Int32

    public init(_ action: String, errno: Int32) {
        self.action = action
        self.errno = errno
    }

    /// The system's text for `errno` ("No space left on device").
    public var reason: String { String(cString: strerror(errno)) }
    public var description: String { "\(action): \(reason)" }

    /// The error of the call that just failed (reads `errno` now).
    static func last(_ action: String) -> SystemError { SystemError(action, errno: Glibc.errno) }
}

/// The system calls of the agent, behind one door as swift-nio keeps its own: sockets (the metrics
/// endpoint, the systemd notification, loopback probes), and files written atomically and durably.
/// Everything that turns `errno` into an error does it here, into `SystemError`.
public enum SystemCalls {
    /// This process's id.
    public static var processID: Int32 { getpid() }

    // MARK: Files

    /// Replaces `path` with `bytes` atomically and durably: a temporary file beside it is written and
    /// fsynced, renamed over `path`, and the folder is fsynced, so after a crash or a power loss the file
    /// holds the old bytes or the new, never a mix.
    public static func writeAtomically(_ bytes: [UInt8], to path: String, permissions: mode_t = 0o600) throws(SystemError) {
        let temporary = "\(path).tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, permissions)
        guard fd >= 0 else { throw .last("cannot create \(temporary)") }
        var failure: SystemError?
        bytes.withUnsafeBytes { buffer in
            guard let base = buffer.baseAddress else { return }
            var written = 0
            while written < buffer.count {
                let n = write(fd, base + written, buffer.count - written)
                if n < 0 && Glibc.errno == EINTR { continue }
                guard n > 0 else {
                    failure = .last("cannot write \(temporary)")
                    return
                }
                written += n
            }
        }
        if failure == nil, fsync(fd) != 0 { failure = .last("cannot write \(temporary)") }
        close(fd)
        if let failure {
            unlink(temporary)
            throw failure
        }
        do {
            try rename(temporary, to: path)
        } catch {
            unlink(temporary)
            throw error
        }
        try synchronizeFolder(of: path)
    }

    /// Renames `from` to `to`, replacing `to` in one step (a reader sees the old file or the new).
    public static func rename(_ from: String, to: String) throws(SystemError) {
        guard Glibc.rename(from, to) == 0 else { throw .last("cannot rename \(from) to \(to)") }
    }

    /// Flushes the folder that holds `path` to disk: a rename into it is durable only then.
    public static func synchronizeFolder(of path: String) throws(SystemError) {
        let slash = path.utf8.lastIndex(of: UInt8(ascii: "/"))
        let folder = slash.map { $0 == path.utf8.startIndex ? "/" : String(path[..<$0]) } ?? "."
        let fd = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw .last("cannot open the folder \(folder)") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw .last("cannot fsync the folder \(folder)") }
    }

    /// Removes the file at `path`.
    public static func remove(_ path: String) throws(SystemError) {
        guard unlink(path) == 0 else { throw .last("cannot remove \(path)") }
    }

    /// The bytes of the file at `path`, read to its end.
    public static func readFile(_ path: String) throws(SystemError) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw .last("cannot open \(path)") }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && Glibc.errno == EINTR { continue }
            guard n >= 0 else { throw .last("cannot read \(path)") }
            if n == 0 { return bytes }
            bytes += chunk[..<n]
        }
    }

    /// What kind of file `path` is and its size; nil (with the error) where it cannot be looked at.
    public static func fileStatus(_ path: String) -> Result<(isRegular: Bool, size: Int64), SystemError> {
        var status = stat()
        guard stat(path, &status) == 0 else { return .failure(.last("cannot stat \(path)")) }
        return .success(((status.st_mode & S_IFMT) == S_IFREG, Int64(status.st_size)))
    }

    // MARK: Sockets

    /// An IPv4 or IPv6 socket address from a numeric literal ("127.0.0.1", "::1"); nil for anything else.
    public enum SocketAddress: Sendable {
        case v4(sockaddr_in)
        case v6(sockaddr_in6)

        public init?(literal: String, port: UInt16) {
            if literal.contains(":") {
                var address = sockaddr_in6()
                address.sin6_family = sa_family_t(AF_INET6)
                address.sin6_port = port.bigEndian
                guard inet_pton(AF_INET6, literal, &address.sin6_addr) == 1 else { return nil }
                self = .v6(address)
            } else {
                var address = sockaddr_in()
                address.sin_family = sa_family_t(AF_INET)
                address.sin_port = port.bigEndian
                guard inet_pton(AF_INET, literal, &address.sin_addr) == 1 else { return nil }
                self = .v4(address)
            }
        }

        /// 127.0.0.1:`port`.
        public static func loopback(_ port: UInt16) -> SocketAddress {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = port.bigEndian
            address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
            return .v4(address)
        }

        var family: Int32 {
            switch self {
            case .v4: AF_INET
            case .v6: AF_INET6
            }
        }

        /// Calls `body` with the address as a `sockaddr` and its length.
        func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
            switch self {
            case .v4(var a):
                withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            case .v6(var a):
                withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in6>.size)) } }
            }
        }
    }

    /// A TCP socket bound to `address` and listening (close-on-exec, address reuse); the descriptor and the
    /// port bound (useful when asked for port 0).
    public static func listen(on address: SocketAddress, backlog: Int32 = 16) throws(SystemError) -> (fd: Int32, port: UInt16) {
        let fd = try tcpSocket(family: address.family)
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let bound = address.withSockaddr { Glibc.bind(fd, $0, $1) }
        guard bound == 0, Glibc.listen(fd, backlog) == 0 else {
            let error = SystemError.last("cannot listen")
            close(fd)
            throw error
        }
        guard let port = boundPort(fd) else {
            let error = SystemError.last("cannot read the bound address")
            close(fd)
            throw error
        }
        return (fd, port)
    }

    /// Binds a TCP socket to `address` and closes it again: the port bound, or nil where it is taken.
    public static func probeBind(_ address: SocketAddress) throws(SystemError) -> UInt16? {
        let fd = try tcpSocket(family: address.family)
        defer { close(fd) }
        guard address.withSockaddr({ Glibc.bind(fd, $0, $1) }) == 0 else { return nil }
        guard let port = boundPort(fd) else { throw .last("cannot read the bound address") }
        return port
    }

    /// Whether something accepts TCP connections at `address` (one blocking connect).
    public static func accepts(_ address: SocketAddress) -> Bool {
        guard let fd = try? tcpSocket(family: address.family) else { return false }
        defer { close(fd) }
        return address.withSockaddr { Glibc.connect(fd, $0, $1) } == 0
    }

    /// Waits up to `milliseconds` for a connection on the listening `fd` and accepts it (close-on-exec),
    /// with `timeoutSeconds` as its send and receive timeout; nil when none came.
    public static func accept(_ fd: Int32, waitingMilliseconds milliseconds: Int32, timeoutSeconds: Int) -> Int32? {
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, milliseconds) > 0 else { return nil }
        let client = Glibc.accept(fd, nil, nil)
        guard client >= 0 else { return nil }
        _ = fcntl(client, F_SETFD, FD_CLOEXEC)
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        return client
    }

    /// Reads what has arrived on `fd` into `chunk`: the byte count, 0 at the end, below 0 on error or timeout.
    public static func receive(_ fd: Int32, into chunk: inout [UInt8]) -> Int {
        chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
    }

    /// Sends the first `count` bytes of `bytes` on `fd` (never raising SIGPIPE); false when the peer went away.
    @discardableResult
    public static func sendAll(_ fd: Int32, _ bytes: [UInt8], count: Int? = nil) -> Bool {
        let total = min(count ?? bytes.count, bytes.count)
        var sent = 0
        while sent < total {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + sent, total - sent, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { return false }
            sent += n
        }
        return true
    }

    /// Sends one datagram to the Unix socket at `path` (a leading `@` names the abstract namespace), as
    /// systemd's `sd_notify` protocol has it.
    public static func sendDatagram(_ message: [UInt8], toUnixSocket path: String) throws(SystemError) {
        var bytes = Array(path.utf8)
        guard !bytes.isEmpty else { throw SystemError("no socket path", errno: EINVAL) }
        if bytes[0] == UInt8(ascii: "@") { bytes[0] = 0 }
        var address = sockaddr_un()
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else {
            throw SystemError("socket path \(path) is too long", errno: ENAMETOOLONG)
        }
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .last("cannot open a socket") }
        defer { close(fd) }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (bytes[0] == 0 ? 0 : 1))
        let sent = message.withUnsafeBytes { payload in
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, payload.baseAddress, payload.count, Int32(MSG_NOSIGNAL), $0, length)
                }
            }
        }
        guard sent == message.count else { throw .last("cannot send to \(path)") }
    }

    /// Closes a descriptor these calls handed out.
    public static func close(_ fd: Int32) { _ = Glibc.close(fd) }

    private static func tcpSocket(family: Int32) throws(SystemError) -> Int32 {
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .last("cannot open a socket") }
        return fd
    }

    private static func boundPort(_ fd: Int32) -> UInt16? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let named = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { return nil }
        let isV6 = Int32(storage.ss_family) == AF_INET6
        return withUnsafePointer(to: &storage) { pointer in
            isV6
                ? pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin6_port) }
                : pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt16(bigEndian: $0.pointee.sin_port) }
        }
    }
}
