import Logging
import ServiceLifecycle
import Synchronization

/// Holds a service that finished during shutdown until the group reaches it in the shutdown order.
///
/// The group stops services in reverse order and treats any service that ends before its own turn
/// as a failure. Several of ours end because the one after them stopped: the publisher when the
/// narration worker drains, the outbox when the upstream link closes. Whether the group hears of
/// that before or after the service it is waiting for is a race, so once any service of the group
/// has been told to stop, a service that ends waits for its own signal (at once when it has come).
/// A service that ends while no shutdown is under way still ends the group, as it should.
struct InShutdownOrder: Service, CustomStringConvertible {
    /// Set when the first service of the group hears of the shutdown.
    final class Shutdown: Sendable {
        let begun = Atomic<Bool>(false)
    }

    let service: any Service
    let shutdown: Shutdown

    init(_ service: any Service, shutdown: Shutdown) {
        self.service = service
        self.shutdown = shutdown
    }

    var description: String { String(describing: type(of: service)) }

    func run() async throws {
        try await withGracefulShutdownHandler {
            try await service.run()
        } onGracefulShutdown: {
            shutdown.begun.store(true, ordering: .sequentiallyConsistent)
        }
        if shutdown.begun.load(ordering: .sequentiallyConsistent) {
            // Cancellation (the group is being torn down) ends the wait too.
            try? await gracefulShutdown()
        }
    }
}

extension ServiceGroup {
    /// A group of `services` that stops them in reverse order, each in its turn even when it ends
    /// because a later one stopped (see `InShutdownOrder`). SIGTERM and SIGINT start the graceful
    /// shutdown when `signals` is set.
    public static func inShutdownOrder(_ services: [any Service], signals: Bool, logger: Logger) -> ServiceGroup {
        let shutdown = InShutdownOrder.Shutdown()
        return ServiceGroup(configuration: .init(
            services: services.map { .init(service: InShutdownOrder($0, shutdown: shutdown)) },
            gracefulShutdownSignals: signals ? [.sigterm, .sigint] : [],
            cancellationSignals: [],
            logger: logger))
    }
}
