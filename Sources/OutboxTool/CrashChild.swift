import Foundation
import Logging
import Outbox

/// The process the crash test kills with SIGKILL at random moments. It produces events from
/// several tasks (so commits are grouped), prints each committed sequence, and drains to a
/// "broker" that appends each delivered sequence to a file, fsynced, before acknowledging.
enum CrashChild {
    static func run(database: String, deliveredLog: String) async {
        var logger = Logger(label: "outbox-crash-child")
        logger.logLevel = .error
        let descriptor = open(deliveredLog, O_WRONLY | O_APPEND | O_CREAT, 0o644)
        guard descriptor >= 0 else {
            FileHandle.standardError.write(Data("cannot open \(deliveredLog)\n".utf8))
            exit(1)
        }
        let outbox: Outbox
        do {
            var configuration = OutboxConfiguration(path: database, retryDelay: .milliseconds(5), maxRetryDelay: .milliseconds(20))
            configuration.maxInFlight = 8
            outbox = try await Outbox.open(configuration: configuration, logger: logger)
        } catch {
            FileHandle.standardError.write(Data("open failed: \(error)\n".utf8))
            exit(1)
        }
        let transport = OutboxClosureTransport { message in
            let line = Array("\(message.sequence)\n".utf8)
            _ = line.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            fsync(descriptor)
        }
        let (states, link) = AsyncStream<Bool>.makeStream()
        let drainer = Task { await outbox.run(transport: transport, linkStates: states) }
        let flapper = Task {
            var up = false
            while !Task.isCancelled {
                up.toggle()
                link.yield(up)
                try? await Task.sleep(for: .milliseconds(Int.random(in: 5...40)))
            }
        }
        let output = FileHandle.standardOutput
        await withTaskGroup(of: Void.self) { group in
            for producer in 0..<4 {
                group.addTask {
                    var counter = 0
                    while true {
                        counter += 1
                        let body = Array("{\"producer\":\(producer),\"n\":\(counter)}".utf8)
                        if let result = try? await outbox.enqueue(topic: "crash", payload: body, severity: counter % 3),
                           let sequence = result.sequence
                        {
                            output.write(Data("committed \(sequence)\n".utf8))
                        }
                    }
                }
            }
        }
        flapper.cancel()
        drainer.cancel()
    }
}
