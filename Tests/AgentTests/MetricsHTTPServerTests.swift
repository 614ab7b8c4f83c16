import Agent
import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The /metrics endpoint's HTTP server against real sockets: good requests, garbage, huge heads,
/// a client that never finishes its request.
@Suite("Metrics HTTP server")
struct MetricsHTTPServerTests {
    static func start() throws -> (MetricsHTTPServer, Task<Void, Never>) {
        let server = try MetricsHTTPServer(host: "127.0.0.1", port: 0) { path in
            switch path {
            case "/metrics": .init(status: 200, contentType: "text/plain; version=0.0.4", body: Array("vigil_up 1\n".utf8))
            case "/healthz": .init(status: 503, contentType: "application/json", body: Array("{\"status\":\"degraded\"}".utf8))
            default: nil
            }
        }
        server.start()
        let task = Task { await server.run() }
        return (server, task)
    }

    /// Sends raw bytes, returns everything the server answered before closing; the blocking socket
    /// calls run on a thread of their own so that they never hold up Swift's cooperative pool.
    static func exchange(port: UInt16, _ request: [UInt8], keepOpenFor: Double = 0) async throws -> String {
        try await withCheckedThrowingContinuation { (done: CheckedContinuation<String, any Error>) in
            Thread { done.resume(with: Result { try blockingExchange(port: port, request, keepOpenFor: keepOpenFor) }) }.start()
        }
    }

    static func blockingExchange(port: UInt16, _ request: [UInt8], keepOpenFor: Double) throws -> String {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        try #require(connected == 0)
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        if keepOpenFor > 0 { usleep(UInt32(keepOpenFor * 1_000_000)) }
        var reply: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { break }
            reply += chunk[..<n]
        }
        return String(decoding: reply, as: UTF8.self)
    }

    @Test func servesMetricsHealthAndRefusesTheRest() async throws {
        let (server, task) = try Self.start()
        let port = server.port
        #expect(port != 0)
        let metrics = try await Self.exchange(port: port, Array("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        #expect(metrics.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(metrics.contains("Content-Type: text/plain; version=0.0.4\r\n"))
        #expect(metrics.contains("Content-Length: 11\r\n"))
        #expect(metrics.hasSuffix("\r\n\r\nvigil_up 1\n"))
        let health = try await Self.exchange(port: port, Array("GET /healthz?verbose=1 HTTP/1.0\n\n".utf8))
        #expect(health.hasPrefix("HTTP/1.1 503 Service Unavailable"))
        #expect(health.hasSuffix("{\"status\":\"degraded\"}"))
        let head = try await Self.exchange(port: port, Array("HEAD /metrics HTTP/1.1\r\n\r\n".utf8))
        #expect(head.hasPrefix("HTTP/1.1 200 OK") && head.hasSuffix("\r\n\r\n"), "HEAD carries no body")
        #expect(try await Self.exchange(port: port, Array("GET /nope HTTP/1.1\r\n\r\n".utf8)).hasPrefix("HTTP/1.1 404"))
        #expect(try await Self.exchange(port: port, Array("POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc".utf8)).hasPrefix("HTTP/1.1 405"))
        #expect(try await Self.exchange(port: port, Array("\u{1}\u{2}garbage\r\n\r\n".utf8)).hasPrefix("HTTP/1.1 400"))
        #expect(try await Self.exchange(port: port, [0xFF, 0xFE, 0x0D, 0x0A, 0x0D, 0x0A]).hasPrefix("HTTP/1.1 400"))
        let huge = Array("GET /metrics HTTP/1.1\r\nX: ".utf8) + [UInt8](repeating: UInt8(ascii: "a"), count: 20_000)
        #expect(try await Self.exchange(port: port, huge).hasPrefix("HTTP/1.1 431"))
        server.stop()
        await task.value
    }

    @Test func aClientThatNeverFinishesDoesNotStopTheServer() async throws {
        let (server, task) = try Self.start()
        let port = server.port
        // Half a request line, then silence for 10 s: the server gives up on it after its receive
        // timeout (2 s), long before the stalled client would have let go.
        let stalled = Task.detached { try await Self.exchange(port: port, Array("GET /met".utf8), keepOpenFor: 10) }
        try await Task.sleep(for: .milliseconds(200))
        let start = ContinuousClock.now
        let metrics = try await Self.exchange(port: port, Array("GET /metrics HTTP/1.1\r\n\r\n".utf8))
        #expect(metrics.hasPrefix("HTTP/1.1 200 OK"))
        // Well under the stalled client's 10 s, with room for a machine busy with other tests.
        #expect(ContinuousClock.now - start < .seconds(Int64(MetricsHTTPServer.receiveTimeoutSeconds) + 5))
        #expect(try await stalled.value.isEmpty, "nothing is answered to an unfinished request")
        server.stop()
        await task.value
    }

    @Test func aPortInUseIsAClearError() throws {
        let (server, task) = try Self.start()
        defer { server.stop(); _ = task }
        do {
            _ = try MetricsHTTPServer(host: "127.0.0.1", port: server.port) { _ in nil }
            Issue.record("bound a port already in use")
        } catch {
            #expect("\(error)".contains("cannot listen on 127.0.0.1:\(server.port)"), "\(error)")
        }
        #expect(throws: (any Error).self) { try MetricsHTTPServer(host: "metrics.example", port: 0) { _ in nil } }
    }
}
