import FlyingFox
import FlyingSocks
import Foundation
import Logging
import MQTT
import Prometheus
import ServiceLifecycle

/// Prometheus `/metrics` and a `/healthz` that says whether the agent is connected and ingesting.
/// Listens on loopback by default (`metrics.listen` in the configuration).
struct MetricsService: Service {
    let listen: String
    let registry: PrometheusCollectorRegistry
    let local: MQTTClient
    let logger: Logger

    func run() async throws {
        guard let colon = listen.lastIndex(of: ":"), let port = UInt16(listen[listen.index(after: colon)...]) else {
            throw AgentError("metrics.listen: expected host:port, found `\(listen)`")
        }
        let host = String(listen[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        let server: HTTPServer
        if host.contains(":") {
            server = HTTPServer(address: try .inet6(ip6: host, port: port), logger: .disabled)
        } else {
            server = HTTPServer(address: try .inet(ip4: host == "localhost" ? "127.0.0.1" : host, port: port), logger: .disabled)
        }
        let registry = self.registry
        let local = self.local
        await server.appendRoute("GET /metrics") { _ in
            var buffer: [UInt8] = []
            buffer.reserveCapacity(16_384)
            registry.emit(into: &buffer)
            return HTTPResponse(statusCode: .ok, headers: [.contentType: "text/plain; version=0.0.4"], body: Data(buffer))
        }
        await server.appendRoute("GET /healthz") { _ in
            let connected = local.isConnected
            let body = "{\"status\":\"\(connected ? "ok" : "degraded")\",\"local_broker\":\"\(local.connectionState)\"}"
            return HTTPResponse(statusCode: connected ? .ok : .serviceUnavailable,
                                headers: [.contentType: "application/json"], body: Data(body.utf8))
        }
        logger.info("metrics and health endpoint", metadata: ["listen": "\(listen)"])
        do {
            try await withGracefulShutdownHandler {
                try await server.run()
            } onGracefulShutdown: {
                Task { await server.stop(timeout: 1) }
            }
        } catch where Task.isShuttingDownGracefully || Task.isCancelled {
            // The server reports its own stop as an error; that is the normal way out.
        }
    }
}
