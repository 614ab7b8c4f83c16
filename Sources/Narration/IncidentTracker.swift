import Detection

/// The narrative of an incident: one text for several events of one asset, the first-out first.
public struct IncidentNarrative: Sendable, Equatable {
    /// `<asset>:<start of the first-out event, epoch ms>`, as the upstream incident's id.
    public var id: String
    /// The events it explains, the first-out first.
    public var eventIDs: [String]
    public var narrative: Narrative

    public init(id: String, eventIDs: [String], narrative: Narrative) {
        self.id = id
        self.eventIDs = eventIDs
        self.narrative = narrative
    }
}

/// Follows, per asset, the events that make one incident as they open and resolve: the first-out event
/// and the events of other sensors of the same asset that open while it (or one of its followers) is
/// still open, within `window` of its start. Feed it every event in order; it says when an opened event
/// is a follower, with the incident's events so far, so the narration can explain the incident.
/// Memory: one group per asset with open events, each at most `1 + Incident.maxFollowers` events.
public struct IncidentTracker: Sendable {
    struct Group: Sendable {
        var events: [AnomalyEvent]
        var open: Set<String>
    }

    /// Most time between the first-out event's start and a follower's, in milliseconds.
    public let windowMs: Int64
    private var groups: [String: Group] = [:]

    public init(window: Duration) {
        windowMs = window.milliseconds
    }

    /// Records `event`. For an opened event that follows others of its asset (another sensor, within the
    /// window, while the incident is open), the incident's events, the first-out first; otherwise nil.
    public mutating func record(_ event: AnomalyEvent) -> [AnomalyEvent]? {
        let asset = event.asset
        switch event.stage {
        case .resolved:
            guard var group = groups[asset] else { return nil }
            group.open.remove(event.id)
            groups[asset] = group.open.isEmpty ? nil : group
            return nil
        case .opened:
            if var group = groups[asset], let first = group.events.first, !group.open.isEmpty,
               event.start >= first.start, event.start - first.start <= windowMs {
                group.open.insert(event.id)
                defer { groups[asset] = group }
                guard !group.events.contains(where: { $0.sensor == event.sensor }),
                      group.events.count < 1 + Incident.maxFollowers
                else { return nil }
                var kept = event
                kept.window = []   // the facts need none of the raw values
                group.events.append(kept)
                return group.events
            }
            var kept = event
            kept.window = []
            groups[asset] = Group(events: [kept], open: [event.id])
            return nil
        }
    }

    /// Assets with an incident open now.
    public var openIncidents: Int { groups.count }

    /// The id of an incident whose first-out event is `first`.
    public static func id(of first: AnomalyEvent) -> String { "\(first.asset):\(first.start)" }
}

extension Duration {
    /// Whole milliseconds (event times are epoch milliseconds).
    var milliseconds: Int64 { components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000 }
}
