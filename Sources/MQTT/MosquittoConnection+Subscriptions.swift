/// The watchdog's bookkeeping of subscriptions: constant work per message for concrete filters,
/// and a periodic check that scans only when some subscription can have fallen silent.
extension MosquittoConnection.SharedState {
    /// Adds or replaces the subscription of `subscription.filter`.
    mutating func setSubscription(_ subscription: MosquittoConnection.Subscription) {
        let key = subscription.filter.filter
        removeSubscription(key)
        subscriptions[key] = subscription
        guard let timeout = subscription.silenceTimeout else { return }
        watchedCount += 1
        if subscription.filter.hasWildcards { watchedWildcards.insert(key) }
        noteDeadline(subscription.lastActivity.advanced(by: timeout))
    }

    @discardableResult
    mutating func removeSubscription(_ filter: String) -> MosquittoConnection.Subscription? {
        guard let old = subscriptions.removeValue(forKey: filter) else { return nil }
        if old.silenceTimeout != nil {
            watchedCount -= 1
            watchedWildcards.remove(filter)
        }
        return old
    }

    mutating func noteDeadline(_ deadline: ContinuousClock.Instant) {
        earliestSilence = earliestSilence.map { min($0, deadline) } ?? deadline
    }

    /// A message matched `filter`; true when the subscription was silent and is active again.
    mutating func noteActivity(filter: String, at now: ContinuousClock.Instant) -> Bool {
        guard let timeout = subscriptions[filter]?.silenceTimeout else { return false }
        subscriptions[filter]?.lastActivity = now
        guard subscriptions[filter]?.silent == true else { return false }
        subscriptions[filter]?.silent = false
        noteDeadline(now.advanced(by: timeout))
        return true
    }

    /// After a (re)connect the silence of every active subscription is counted from now.
    mutating func restartSilenceClocks(at now: ContinuousClock.Instant) {
        earliestSilence = nil
        for key in Array(subscriptions.keys) where subscriptions[key]?.silent == false {
            subscriptions[key]?.lastActivity = now
            if let timeout = subscriptions[key]?.silenceTimeout { noteDeadline(now.advanced(by: timeout)) }
        }
    }

    /// Marks every subscription silent whose timeout has passed, and finds the next deadline.
    mutating func markSilent(at now: ContinuousClock.Instant) -> [MQTTWatchdogEvent] {
        var events: [MQTTWatchdogEvent] = []
        var next: ContinuousClock.Instant?
        for key in Array(subscriptions.keys) {
            guard let subscription = subscriptions[key], !subscription.silent,
                  let timeout = subscription.silenceTimeout else { continue }
            let deadline = subscription.lastActivity.advanced(by: timeout)
            if now >= deadline {
                subscriptions[key]?.silent = true
                events.append(.silent(filter: key, silence: subscription.lastActivity.duration(to: now)))
            } else {
                next = next.map { min($0, deadline) } ?? deadline
            }
        }
        earliestSilence = next
        return events
    }
}

/// A `subscribe` call waiting for the SUBACKs of its packets. Touched only with the connection's
/// shared state locked; the call resumes once every packet is answered or the connection is lost.
final class SubscribeWaiter: @unchecked Sendable {
    private var outstanding: Int
    private var error: MQTTError?
    private let continuation: CheckedContinuation<Void, any Error>

    init(packets: Int, continuation: CheckedContinuation<Void, any Error>) {
        outstanding = packets
        self.continuation = continuation
    }

    /// The resumption to run (outside the lock) once the last packet settles.
    struct Done {
        let continuation: CheckedContinuation<Void, any Error>
        let error: MQTTError?

        func resume() {
            if let error { continuation.resume(throwing: error) } else { continuation.resume() }
        }
    }

    /// `packets` packets are answered (or will never be sent); the first error wins.
    func settle(packets: Int, error: MQTTError?) -> Done? {
        if self.error == nil { self.error = error }
        outstanding -= packets
        return outstanding == 0 ? Done(continuation: continuation, error: self.error) : nil
    }
}
