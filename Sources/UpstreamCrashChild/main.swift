// UpstreamCrashChild: the process the upstream crash test kills with SIGKILL at random moments.
//
//   UpstreamCrashChild <database> <broker-port> <topic>
//
// The agent's outbox drains through `MQTTOutboxTransport` to a real broker on 127.0.0.1 while
// four producers enqueue continuously. After each enqueue returns `.stored` it prints
// "committed <sequence> <idempotency key>" on standard output (one write per line, so a line
// that is whole was printed after its commit was durable). It runs until killed.
import Agent
import Foundation
import Logging
import MQTT
import Outbox

enum CrashChildProcess {
    static func main() async {
        let arguments = CommandLine.arguments
        guard arguments.count == 4, let port = Int(arguments[2]) else {
            FileHandle.standardError.write(Data("usage: UpstreamCrashChild <database> <broker-port> <topic>\n".utf8))
            exit(2)
        }
        let database = arguments[1]
        let topic = arguments[3]

        var logger = Logger(label: "upstream-crash-child")
        logger.logLevel = .error

        let outbox: Outbox
        let client: MQTTClient
        do {
            var configuration = OutboxConfiguration(path: database, retryDelay: .milliseconds(10), maxRetryDelay: .milliseconds(100))
            configuration.maxInFlight = 8
            outbox = try await Outbox.open(configuration: configuration, logger: logger)
            client = try MQTTClient(
                configuration: MQTTConfiguration(
                    host: "127.0.0.1", port: port, clientID: "upstream-crash-child-\(getpid())",
                    reconnectDelay: MQTTReconnectDelay(min: .milliseconds(20), max: .milliseconds(200))),
                logger: logger)
        } catch {
            FileHandle.standardError.write(Data("start failed: \(error)\n".utf8))
            exit(1)
        }

        // Link states as the agent's OutboxService feeds them: connected or not.
        let states = client.connectionStates
        let (links, link) = AsyncStream<Bool>.makeStream(bufferingPolicy: .bufferingNewest(8))
        let forwarder = Task {
            for await state in states {
                link.yield(state.isConnected)
                if state == .closed { break }
            }
            link.finish()
        }
        let connector = Task { try await client.connect(retryUntilConnected: true) }
        let drainer = Task { await outbox.run(transport: MQTTOutboxTransport(client: client), linkStates: links) }

        let output = FileHandle.standardOutput
        await withTaskGroup(of: Void.self) { group in
            for producer in 0..<4 {
                group.addTask {
                    var counter = 0
                    while true {
                        counter += 1
                        // The key is the producer's own: the test checks that a repeated sequence repeats it.
                        let key = "child-\(getpid())-\(producer)-\(counter)"
                        let body = Array("{\"producer\":\(producer),\"n\":\(counter)}".utf8)
                        if let result = try? await outbox.enqueue(topic: topic, payload: body, severity: counter % 3, key: key),
                           let sequence = result.sequence
                        {
                            output.write(Data("committed \(sequence) \(key)\n".utf8))
                        }
                        try? await Task.sleep(for: .milliseconds(Int.random(in: 0...4)))
                    }
                }
            }
        }
        _ = (forwarder, connector, drainer)
    }
}

await CrashChildProcess.main()
