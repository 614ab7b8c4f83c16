import Logging
import MQTT
import Outbox
import ServiceLifecycle

/// Sends outbox messages to the upstream broker with QoS 1. `send` hands the message to the
/// client's network thread (in the outbox's order) and returns at once; the acknowledgement it
/// returns completes on the PUBACK, so the outbox deletes a message only once the broker has it,
/// and keeps up to its `maxInFlight` messages unacknowledged at once.
public struct MQTTOutboxTransport: OutboxTransport {
    let client: MQTTClient

    public init(client: MQTTClient) {
        self.client = client
    }

    public func send(_ message: OutboxMessage) async throws -> OutboxAcknowledgement {
        try Task.checkCancellation()
        let body = message.jsonObjectBody() ?? message.payload
        let receipt = try client.send(topic: message.topic, payload: body, qos: .atLeastOnce, retain: false)
        return OutboxAcknowledgement { try await receipt.acknowledged() }
    }
}

/// Drains the outbox whenever the upstream link is up; closes the database last on shutdown.
struct OutboxService: Service {
    let outbox: Outbox
    let upstream: MQTTClient
    let logger: Logger

    func run() async throws {
        let states = upstream.connectionStates
        let (links, continuation) = AsyncStream<Bool>.makeStream(bufferingPolicy: .bufferingNewest(8))
        let forward = Task {
            for await state in states {
                continuation.yield(state.isConnected)
                if state == .closed { break }
            }
            continuation.finish()
        }
        await cancelWhenGracefulShutdownQuietly {
            await outbox.run(transport: MQTTOutboxTransport(client: upstream), linkStates: links)
        }
        forward.cancel()
        continuation.finish()
        let s = await outbox.statistics()
        await outbox.close()
        logger.info("outbox closed", metadata: ["depth": "\(s.depth)", "sent": "\(s.sent)", "dropped": "\(s.droppedTotal)"])
    }
}

/// Runs `body`, cancelling it when graceful shutdown begins; never throws.
func cancelWhenGracefulShutdownQuietly(_ body: @escaping @Sendable () async -> Void) async {
    _ = await cancelWhenGracefulShutdown { await body() }
}
