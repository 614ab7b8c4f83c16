import Foundation
import Synchronization
import VigilSupport

/// The smallest HTTP/1.1 server that serves `/metrics` and `/healthz`: one listening socket, one
/// thread, one request per connection (`Connection: close`), answered in order.
///
/// Written here rather than taken from an HTTP library because the ones at hand pull in
/// FoundationNetworking and with it libcurl and some thirty shared libraries: 7–8 MB of resident
/// memory on a gateway where the agent's whole budget without the model is 30 MB, for a loopback
/// endpoint scraped every few seconds. What it guards against: requests that never finish (a
/// per-connection receive timeout), huge headers (431), anything but GET/HEAD (405), unknown paths
/// (404), garbage (400). It never reads a request body.
public final class MetricsHTTPServer: Sendable {
    public struct Response: Sendable {
        public var status: Int
        public var contentType: String
        public var body: [UInt8]

        public init(status: Int, contentType: String, body: [UInt8]) {
            self.status = status
            self.contentType = contentType
            self.body = body
        }
    }

    /// The answer for a path (query string removed); nil means 404.
    public typealias Handler = @Sendable (_ path: String) -> Response?

    /// The largest request head read; a longer one gets 431.
    public static let maximumRequestBytes = 8192
    /// How long one connection may take to send its request.
    public static let receiveTimeoutSeconds = 2

    private let socket: Int32
    private let handler: Handler
    private let stopping = Atomic<Bool>(false)
    /// The port bound (useful when asked for port 0).
    public let port: UInt16

    /// Binds and listens on `host:port` (an IPv4 or IPv6 literal, or `localhost`).
    public init(host: String, port: UInt16, handler: @escaping Handler) throws {
        self.handler = handler
        let literal = host == "localhost" ? "127.0.0.1" : host
        guard let address = SystemCalls.SocketAddress(literal: literal, port: port) else {
            throw AgentError(literal.contains(":") ? "metrics.listen: `\(host)` is not an IPv6 address"
                : "metrics.listen: `\(host)` is not an IPv4 or IPv6 address (a host name other than localhost is not resolved)")
        }
        do {
            (socket, self.port) = try SystemCalls.listen(on: address)
        } catch {
            throw AgentError("metrics.listen: cannot listen on \(host):\(port): \(error.reason)")
        }
    }

    deinit { SystemCalls.close(socket) }

    private enum Lifecycle {
        case idle
        case serving(waiters: [CheckedContinuation<Void, Never>])
        case finished
    }

    private let lifecycle = Mutex(Lifecycle.idle)

    /// Starts serving on a thread of its own (never on Swift's cooperative pool, which a blocked
    /// caller could starve). Calling it again does nothing.
    public func start() {
        let begin = lifecycle.withLock { state -> Bool in
            guard case .idle = state else { return false }
            state = .serving(waiters: [])
            return true
        }
        guard begin else { return }
        let thread = Thread { [self] in
            serve()
            let waiters = lifecycle.withLock { state -> [CheckedContinuation<Void, Never>] in
                defer { state = .finished }
                if case .serving(let waiters) = state { return waiters }
                return []
            }
            for waiter in waiters { waiter.resume() }
        }
        thread.name = "vigil-metrics"
        thread.stackSize = 256 * 1024
        thread.start()
    }

    /// Starts serving (if not yet) and returns once `stop()` has taken effect.
    public func run() async {
        start()
        await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
            let done = lifecycle.withLock { state -> Bool in
                if case .serving(let waiters) = state {
                    state = .serving(waiters: waiters + [waiter])
                    return false
                }
                return true
            }
            if done { waiter.resume() }
        }
    }

    /// Makes `run()` return within a fraction of a second.
    public func stop() { stopping.store(true, ordering: .relaxed) }

    private func serve() {
        while !stopping.load(ordering: .relaxed) {
            guard let client = SystemCalls.accept(socket, waitingMilliseconds: 200, timeoutSeconds: Self.receiveTimeoutSeconds) else {
                continue
            }
            answer(client)
            SystemCalls.close(client)
        }
    }

    private func answer(_ client: Int32) {
        let deadline = ContinuousClock.now + .seconds(Self.receiveTimeoutSeconds)
        var request: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 2048)
        while !Self.headComplete(request) {
            guard request.count < Self.maximumRequestBytes else {
                send(client, Self.response(431, "text/plain", Array("request header too large\n".utf8)), head: false)
                return
            }
            guard ContinuousClock.now < deadline else { return }
            let n = SystemCalls.receive(client, into: &chunk)
            guard n > 0 else { return }  // closed, timed out or failed: nothing to answer
            request += chunk[..<n]
        }
        guard let line = request.split(separator: UInt8(ascii: "\r"), maxSplits: 1).first,
              let text = String(validating: line, as: UTF8.self) else {
            send(client, Self.response(400, "text/plain", Array("bad request\n".utf8)), head: false)
            return
        }
        let parts = text.split(separator: " ")
        guard parts.count == 3, parts[2].hasPrefix("HTTP/1."), parts[1].hasPrefix("/") else {
            send(client, Self.response(400, "text/plain", Array("bad request\n".utf8)), head: false)
            return
        }
        let method = parts[0]
        guard method == "GET" || method == "HEAD" else {
            send(client, Self.response(405, "text/plain", Array("only GET and HEAD\n".utf8), extra: "Allow: GET, HEAD\r\n"),
                 head: false)
            return
        }
        let path = String(parts[1].split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)[0])
        let reply = handler(path) ?? Response(status: 404, contentType: "text/plain", body: Array("not found\n".utf8))
        send(client, Self.response(reply.status, reply.contentType, reply.body), head: method == "HEAD",
             bodyBytes: reply.body.count)
    }

    static func headComplete(_ bytes: [UInt8]) -> Bool {
        guard bytes.count >= 4 else { return false }
        // A request head ends with an empty line; tolerate bare LF line ends.
        for i in 0..<(bytes.count - 1) where bytes[i] == 0x0A {
            if bytes[i + 1] == 0x0A { return true }
            if i + 2 < bytes.count, bytes[i + 1] == 0x0D, bytes[i + 2] == 0x0A { return true }
        }
        return false
    }

    static func response(_ status: Int, _ contentType: String, _ body: [UInt8], extra: String = "") -> [UInt8] {
        let reason = switch status {
        case 200: "OK"
        case 400: "Bad Request"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 431: "Request Header Fields Too Large"
        case 503: "Service Unavailable"
        default: "Status"
        }
        let head = "HTTP/1.1 \(status) \(reason)\r\nContent-Type: \(contentType)\r\nContent-Length: \(body.count)\r\n"
            + "Cache-Control: no-store\r\n\(extra)Connection: close\r\n\r\n"
        return Array(head.utf8) + body
    }

    private func send(_ client: Int32, _ bytes: [UInt8], head: Bool, bodyBytes: Int = 0) {
        SystemCalls.sendAll(client, bytes, count: head ? bytes.count - bodyBytes : bytes.count)
    }
}
