import Agent
import Foundation
import Logging
import ServiceLifecycle
import Testing

/// The live agent's services stop in reverse order; some end because a later one stopped (the
/// publisher when narration drains). The group must not take that for a failure.
@Suite("Shutdown order")
struct ShutdownOrderTests {
    /// Ends when its feed ends: the feed is closed by the service listed after it.
    struct Consumer: Service {
        let feed: AsyncStream<Int>
        func run() async throws {
            for await _ in feed {}
        }
    }

    /// On shutdown closes the feed, then takes a while to finish its own work.
    struct Producer: Service {
        let continuation: AsyncStream<Int>.Continuation
        func run() async throws {
            try? await gracefulShutdown()
            continuation.finish()
            try await Task.sleep(for: .milliseconds(100))
        }
    }

    /// Runs until told to stop.
    struct Waiter: Service {
        func run() async throws { try? await gracefulShutdown() }
    }

    /// Ends at once, with nobody stopping.
    struct Quitter: Service {
        func run() async throws {}
    }

    func services() -> [any Service] {
        let (feed, continuation) = AsyncStream<Int>.makeStream()
        return [Consumer(feed: feed), Producer(continuation: continuation)]
    }

    func runAndStop(_ group: ServiceGroup) async -> (any Error)? {
        let task = Task { try await group.run() }
        try? await Task.sleep(for: .milliseconds(50))
        await group.triggerGracefulShutdown()
        do { try await task.value } catch { return error }
        return nil
    }

    @Test func aServiceEndedByTheNextOneWaitsForItsTurn() async {
        let logger = Logger(label: "test")
        // The plain group calls it a failure: the consumer ends while the producer is still stopping.
        let plain = ServiceGroup(configuration: .init(services: services().map { .init(service: $0) },
                                                      gracefulShutdownSignals: [], cancellationSignals: [], logger: logger))
        let plainError = await runAndStop(plain)
        #expect(plainError != nil, "the plain group should report the consumer as finished unexpectedly")
        // In shutdown order it is a clean stop, every time.
        for _ in 0..<20 {
            let error = await runAndStop(.inShutdownOrder(services(), signals: false, logger: logger))
            #expect(error == nil, "\(String(describing: error))")
        }
    }

    @Test func aServiceThatEndsUnasked() async {
        // With no shutdown under way, a service that ends still ends the group with an error.
        let group = ServiceGroup.inShutdownOrder([Waiter(), Quitter()], signals: false, logger: Logger(label: "test"))
        await #expect(throws: (any Error).self) { try await group.run() }
    }
}
