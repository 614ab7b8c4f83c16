import Detection
import Telemetry

/// The deterministic narration: one or two sentences built from the facts alone.
/// It is what the operator reads whenever the model's text is absent, late or rejected.
public enum TemplateNarrator {
    public static func narrate(_ event: AnomalyEvent, catalog: Catalog) -> String {
        narrate(Facts(event: event, catalog: catalog))
    }

    /// The longest text that fits the verifier's length bound: two related sensors and the causes,
    /// then fewer, then the first sentence alone.
    public static let maxCharacters = 320

    public static func narrate(_ f: Facts) -> String {
        var first = main(f)
        if first.last != "." { first += "." }
        for (related, causes) in [(2, true), (1, true), (2, false), (1, false), (0, true)] {
            guard let second = secondSentence(f, related: related, causes: causes) else { continue }
            let text = first + " " + second
            if text.count <= maxCharacters { return text }
        }
        return first
    }

    static func main(_ f: Facts) -> String {
        let subject = "\(f.sensor) on \(f.asset)"
        let peak = f.peak.withUnit, base = f.baseline.withUnit, dev = f.deviation.withUnit
        let lasting = f.duration.value >= 1 ? " for \(f.duration.withUnit)" : ""
        let aboveBelow = f.direction == .down ? "below" : "above"
        if f.stage == .resolved {
            switch f.kind {
            case .silence:
                return "\(subject) is back to normal: its readings returned after \(f.duration.withUnit) of silence "
                    + "that began at \(f.startText)"
            case .stuck:
                return "\(subject) is back to normal after \(f.duration.withUnit) stuck at \(peak)"
            case .outOfRange:
                if let limit = f.limit {
                    let side = f.limitSide == .low ? "low" : "high"
                    return "\(subject) is back within its range after \(f.duration.withUnit); it had reached \(peak), "
                        + "\(side == "low" ? "below" : "above") its \(side) limit of \(limit.withUnit)"
                }
            default:
                break
            }
            return "\(subject) is back to normal after \(f.duration.withUnit) of \(f.kind.words); "
                + "it peaked at \(peak) against a baseline of \(base)"
        }
        switch f.kind {
        case .spike:
            return "\(subject) spiked to \(peak) at \(f.startText), \(dev) above its baseline of \(base)"
        case .dip:
            return "\(subject) dipped to \(peak) at \(f.startText), \(dev) below its baseline of \(base)"
        case .levelShift:
            if f.direction == .none {
                return "\(subject) shifted level at \(f.startText) and now reads \(peak)"
            }
            return "\(subject) shifted \(f.direction == .up ? "up" : "down") to \(peak) at \(f.startText), "
                + "\(dev) \(aboveBelow) its baseline of \(base)"
        case .drift:
            if f.direction == .none { return "\(subject) has been drifting since \(f.startText) and reads \(peak)" }
            return "\(subject) has drifted \(f.direction == .up ? "up" : "down") to \(peak) since \(f.startText), "
                + "\(dev) \(aboveBelow) its baseline of \(base)"
        case .outOfRange:
            if let limit = f.limit {
                let side = f.limitSide == .low ? "low" : "high"
                return "\(subject) reached \(peak) at \(f.startText), \(side == "low" ? "below" : "above") its \(side) limit of \(limit.withUnit)"
            }
            return "\(subject) left its allowed range at \(f.startText), reaching \(peak)"
        case .stuck:
            return "\(subject) has been stuck at \(peak)\(lasting) since \(f.startText)"
        case .silence:
            return "\(subject) has sent no readings\(lasting) since \(f.startText)"
        case .oscillation:
            return "\(subject) has been oscillating since \(f.startText), swinging as far as \(peak) "
                + "around a baseline of \(base)"
        case .volatilityShift:
            return "\(subject) has turned erratic since \(f.startText), reaching \(peak) around a baseline of \(base)"
        case .seasonal:
            if f.direction == .none {
                return "\(subject) left its usual daily pattern at \(f.startText), reading \(peak), close to the expected \(base)"
            }
            return "\(subject) left its usual daily pattern at \(f.startText), reading \(peak), "
                + "\(dev) \(aboveBelow) the expected \(base)"
        case .correlationBreak:
            if f.direction == .none {
                return "\(subject) broke from its related sensors at \(f.startText) and reads \(peak)"
            }
            return "\(subject) broke from its related sensors at \(f.startText) and reads \(peak), "
                + "\(dev) \(aboveBelow) its baseline of \(base)"
        }
    }

    static func secondSentence(_ f: Facts, related: Int, causes withCauses: Bool) -> String? {
        guard f.stage == .opened else { return nil }
        if f.incident != nil { return incidentSentence(f, followers: related, causes: withCauses) }
        var parts: [String] = []
        for r in f.related.prefix(related) {
            switch r.direction {
            case .up: parts.append("\(r.name) rose by \(r.deviation.withUnit)")
            case .down: parts.append("\(r.name) fell by \(r.deviation.withUnit)")
            case .none: parts.append("\(r.name) held steady at \(r.value.withUnit)")
            }
        }
        let causes = withCauses ? Array(f.causes.prefix(2)) : []
        let causeText = causes.isEmpty ? nil : "possibly " + causes.joined(separator: " or ")
        if parts.isEmpty {
            guard causeText != nil else { return nil }
            return "The listed causes for this machine are " + causes.joined(separator: " or ") + "."
        }
        var text = "At the same time, " + parts.joined(separator: " and ")
        if let causeText { text += "; " + causeText }
        return text + "."
    }

    /// An incident's second sentence: what followed the first-out sensor, and what the pattern may mean.
    static func incidentSentence(_ f: Facts, followers: Int, causes withCauses: Bool) -> String? {
        let parts = f.related.prefix(max(1, followers)).map { r -> String in
            switch r.direction {
            case .up: "\(r.name), which rose by \(r.deviation.withUnit)"
            case .down: "\(r.name), which fell by \(r.deviation.withUnit)"
            case .none: "\(r.name), which held steady at \(r.value.withUnit)"
            }
        }
        guard !parts.isEmpty else { return nil }
        var text = "It went first and was followed by " + parts.joined(separator: " and then by ")
        let causes = withCauses ? Array(f.causes.prefix(2)) : []
        if !causes.isEmpty { text += "; together this points to possibly " + causes.joined(separator: " or ") }
        return text + "."
    }
}
