import Foundation
import Outbox
import ServiceLifecycle
import Synchronization
import VigilSupport

/// What keeps the agent from doing its job although it runs: the outbox cannot write (a full
/// disk), the detector state cannot be saved. `/healthz` answers 503 `degraded` with these reasons
/// while any is set, so a full disk is not reported as `ok`.
public final class HealthBoard: Sendable {
    private let problems = Mutex<[String: String]>([:])

    public init() {}

    /// Sets (or with nil clears) the problem of one part, e.g. `outbox` or `detector_state`.
    public func set(_ part: String, _ problem: String?) {
        problems.withLock { $0[part] = problem }
    }

    /// The problems now, by part.
    public var current: [String: String] { problems.withLock { $0 } }
}

/// Watches the outbox's write health for `/healthz` (every second; a read of counters).
struct OutboxHealthService: Service {
    let outbox: Outbox
    let health: HealthBoard

    func run() async throws {
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            let failure = await outbox.statistics().writeFailure
            health.set("outbox", failure.map { "the outbox cannot write: \($0)" })
            try? await Task.sleep(for: .seconds(1))
        }
    }
}

extension HealthBoard {
    /// The `/healthz` body and status: 200 `ok`, or 503 `degraded` with the reasons.
    public func response(localConnected: Bool, localState: String) -> (status: Int, body: String) {
        var reasons = current
        if !localConnected { reasons["local_broker"] = "not connected to the local broker" }
        let status = reasons.isEmpty ? "ok" : "degraded"
        let listed = reasons.sorted { $0.key < $1.key }.map { JSONText.quoted($0.key) + ":" + JSONText.quoted($0.value) }
        let body = "{\"status\":\"\(status)\",\"local_broker\":\(JSONText.quoted(localState)),\"problems\":{\(listed.joined(separator: ","))}}"
        return (reasons.isEmpty ? 200 : 503, body)
    }
}
