import Logging
import MQTT
import ServiceLifecycle

/// The connection to the plant's local broker: connects (retrying with backoff), subscribes to the
/// catalog's topics, and on graceful shutdown disconnects cleanly after the services listed after
/// it (ingest, narration, publishing, status) have stopped.
struct LocalLinkService: Service {
    let client: MQTTClient
    let topics: [String]
    let silentAfter: Duration?
    let logger: Logger

    func run() async throws {
        let client = self.client
        // Connect until it works or shutdown begins.
        do {
            try await cancelWhenGracefulShutdown { try await client.connect(retryUntilConnected: true) }
        } catch {
            return
        }
        logger.info("connected to the local broker", metadata: ["host": "\(client.configuration.host)", "port": "\(client.configuration.port)"])
        try await client.subscribe(topics, qos: .atLeastOnce, silenceTimeout: silentAfter)
        logger.info("subscribed", metadata: ["topics": "\(topics.count)"])
        try? await gracefulShutdown()
        await client.disconnect()
        logger.info("disconnected from the local broker")
    }
}

/// The connection to the upstream broker: connects with retries and reconnects on its own;
/// the outbox watches its state to drain.
struct UpstreamLinkService: Service {
    let client: MQTTClient
    let logger: Logger

    func run() async throws {
        let client = self.client
        do {
            try await cancelWhenGracefulShutdown { try await client.connect(retryUntilConnected: true) }
        } catch {
            return
        }
        logger.info("connected to the upstream broker", metadata: ["host": "\(client.configuration.host)"])
        try? await gracefulShutdown()
        await client.disconnect()
    }
}
