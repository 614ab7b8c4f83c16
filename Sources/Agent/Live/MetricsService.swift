import Foundation
import Logging
import MQTT
import Prometheus
import ServiceLifecycle

extension LiveAgent {
    /// What `/metrics` serves: the registry's exposition with a `# HELP` line for every family.
    public var metricsExposition: [UInt8] { Self.exposition(of: registry) }

    static func exposition(of registry: PrometheusCollectorRegistry) -> [UInt8] {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(16_384)
        registry.emit(into: &buffer)
        return MetricsHelp.annotate(buffer)
    }
}

/// Prometheus `/metrics` and a `/healthz` that says whether the agent is connected and ingesting.
/// Listens on loopback by default (`metrics.listen` in the configuration).
struct MetricsService: Service {
    let listen: String
    let registry: PrometheusCollectorRegistry
    let local: MQTTClient
    let logger: Logger
    /// Parts that are failing (outbox writes, detector state saves): `/healthz` says degraded.
    var health = HealthBoard()

    /// `host:port`, `[v6]:port` or `localhost:port`.
    static func parse(listen: String) throws -> (host: String, port: UInt16) {
        guard let colon = listen.lastIndex(of: ":"), let port = UInt16(listen[listen.index(after: colon)...]) else {
            throw AgentError("metrics.listen: expected host:port, found `\(listen)`")
        }
        let host = String(listen[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        return (host, port)
    }

    func run() async throws {
        let (host, port) = try Self.parse(listen: listen)
        let registry = self.registry
        let local = self.local
        let health = self.health
        let server = try MetricsHTTPServer(host: host, port: port) { path in
            switch path {
            case "/metrics":
                return .init(status: 200, contentType: "text/plain; version=0.0.4", body: LiveAgent.exposition(of: registry))
            case "/healthz":
                let (status, body) = health.response(localConnected: local.isConnected, localState: "\(local.connectionState)")
                return .init(status: status, contentType: "application/json", body: Array(body.utf8))
            default:
                return nil
            }
        }
        logger.info("metrics and health endpoint", metadata: ["listen": "\(listen)"])
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await server.run()
            } onGracefulShutdown: {
                server.stop()
            }
        } onCancel: {
            server.stop()
        }
    }
}
