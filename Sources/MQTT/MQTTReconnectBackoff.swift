/// Jittered exponential backoff for reconnect attempts.
///
/// Attempt n (from 0) waits a random time in `[max(min, d/2), d]` where
/// `d = min(max, min * 2^n)`: the wait grows to `max`, and a fleet of agents that lost the
/// same broker does not come back in lock step.
public struct MQTTReconnectBackoff: Sendable {
    public let delay: MQTTReconnectDelay
    /// Failed attempts since the last success.
    public private(set) var attempt: Int = 0

    public init(delay: MQTTReconnectDelay) {
        self.delay = delay
    }

    /// The upper bound of the next wait, before jitter.
    public var ceiling: Duration {
        var grown = delay.min
        for _ in 0..<attempt {
            grown *= 2
            if grown >= delay.max { return delay.max }
        }
        return Swift.min(grown, delay.max)
    }

    /// The next wait, with jitter from `generator`; counts one more attempt.
    public mutating func next<G: RandomNumberGenerator>(using generator: inout G) -> Duration {
        let upper = ceiling / .seconds(1)
        let lower = Swift.max(delay.min / .seconds(1), upper / 2)
        attempt += 1
        if upper <= lower { return .seconds(upper) }
        return .seconds(Double.random(in: lower...upper, using: &generator))
    }

    public mutating func next() -> Duration {
        var generator = SystemRandomNumberGenerator()
        return next(using: &generator)
    }

    /// Call after a successful connection.
    public mutating func reset() { attempt = 0 }
}
