import Detection
import Telemetry

/// What makes several facts one incident: how many events followed the first-out one, and their kinds.
public struct IncidentInfo: Sendable, Codable, Equatable {
    /// The ids of the events, the first-out first.
    public var eventIDs: [String]
    /// The kind of each follower, in the order of `Facts.related`.
    public var followerKinds: [AnomalyKind]
}

/// Several events of one asset that belong to one incident: the first-out sensor and the ones that
/// followed. Narrated as one text from one set of facts: the first-out event's facts, with the followers
/// in the place of the related sensors (each with the deviation it had when its own event opened) and
/// the catalog's causes for the first-out kind, then for the followers' kinds. The verifier checks such
/// a text as it checks a single event's.
public enum Incident {
    /// The most followers kept (the earliest).
    public static let maxFollowers = Facts.maxRelated

    /// The facts of the incident `events` (of one asset; ordered here by start, the first-out first), or nil
    /// for fewer than two events or events of several assets.
    public static func facts(_ events: [AnomalyEvent], catalog: Catalog) -> Facts? {
        let ordered = events.sorted { $0.start != $1.start ? $0.start < $1.start : $0.id < $1.id }
        guard ordered.count >= 2, let first = ordered.first, ordered.allSatisfy({ $0.asset == first.asset }) else {
            return nil
        }
        var seen: Set<SensorID> = [first.sensor]
        var followers: [AnomalyEvent] = []
        for e in ordered.dropFirst() where followers.count < maxFollowers && seen.insert(e.sensor).inserted {
            followers.append(e)
        }
        guard !followers.isEmpty else { return nil }
        var lead = first
        // Scores rank related sensors in `Facts`: keep the followers in the order they came.
        lead.related = followers.enumerated().map { i, e in
            RelatedDeviation(sensor: e.sensor, value: e.peak, baseline: e.baseline, deviation: e.peak - e.baseline,
                             score: Double(100 - i))
        }
        var facts = Facts(event: lead, catalog: catalog)
        facts.eventID = "incident-" + first.id
        facts.incident = IncidentInfo(eventIDs: ordered.map(\.id),
                                      followerKinds: facts.related.compactMap { r in followers.first { $0.sensor == r.sensor }?.kind })
        // What the pattern usually means: the causes listed for the first-out kind, then for the followers'.
        let assetInfo = catalog.asset(first.asset)
        var causes = facts.causes
        for kind in facts.incident?.followerKinds ?? [] {
            for c in (assetInfo?.causes[kind.rawValue] ?? []).map({ Sanitizer.name($0, fallback: "") })
            where !c.isEmpty && !causes.contains(c) {
                causes.append(c)
            }
        }
        facts.causes = Array(causes.prefix(4))
        return facts
    }

    /// Groups `events` into incidents: events of one asset whose starts lie within `window` seconds of the
    /// first one's. Singles are groups of one. Order: by the first event's start.
    public static func group(_ events: [AnomalyEvent], window: Double) -> [[AnomalyEvent]] {
        var groups: [[AnomalyEvent]] = []
        for e in events.sorted(by: { $0.start < $1.start }) {
            if let i = groups.lastIndex(where: { $0[0].asset == e.asset }),
               Double(e.start - groups[i][0].start) / 1000 <= window {
                groups[i].append(e)
            } else {
                groups.append([e])
            }
        }
        return groups
    }
}
