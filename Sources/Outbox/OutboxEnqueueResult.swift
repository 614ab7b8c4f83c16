/// What became of one `enqueue` call. `stored` is returned only after the transaction that holds
/// the event is durable on disk.
public enum OutboxEnqueueResult: Sendable, Equatable {
    /// Committed with this sequence number. `historical` is the flag it was stored with.
    case stored(sequence: UInt64, historical: Bool)
    /// Not stored, by the configured policy; counted under `reason` in the statistics.
    case dropped(OutboxDropReason)

    /// The sequence number when stored.
    public var sequence: UInt64? {
        if case .stored(let sequence, _) = self { return sequence }
        return nil
    }
}
