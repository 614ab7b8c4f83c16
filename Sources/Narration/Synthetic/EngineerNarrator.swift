import Detection

/// The reference texts of the training pairs: what a careful engineer would write from the facts, in
/// complete sentences with varied phrasings (chosen by `variant`), each checked by the verifier before
/// it is used. Not the operator's fallback: that is `TemplateNarrator`, which never varies.
public enum EngineerNarrator {
    /// The texts this narrator can write for `facts`, in the order of preference for `variant`.
    public static func candidates(_ f: Facts, variant: Int) -> [String] {
        let firsts = rotate(first(f), by: variant)
        let seconds = rotate(second(f), by: variant / 2 + variant)
        var out: [String] = []
        for a in firsts {
            if seconds.isEmpty { out.append(a) }
            for b in seconds { out.append(a + " " + b) }
        }
        out.append(contentsOf: firsts)   // the first sentence alone, when no second one fits
        return out
    }

    /// The first candidate the verifier accepts, or nil.
    public static func narrate(_ f: Facts, variant: Int, verifier: Verifier) -> String? {
        for text in candidates(f, variant: variant) where text.count <= TemplateNarrator.maxCharacters {
            if verifier.verify(text).accepted { return text }
        }
        return nil
    }

    static func rotate(_ items: [String], by k: Int) -> [String] {
        guard !items.isEmpty else { return [] }
        let k = ((k % items.count) + items.count) % items.count
        return Array(items[k...] + items[..<k])
    }

    /// Ways of saying what the event's own sensor did.
    static func first(_ f: Facts) -> [String] {
        let s = f.sensor, a = f.asset
        let subject = "\(s) on \(a)"
        let t = f.startText, peak = f.peak.withUnit, base = f.baseline.withUnit, dev = f.deviation.withUnit
        let dur = f.duration.withUnit
        let up = f.direction == .up
        let above = up ? "above" : "below", higher = up ? "higher" : "lower"
        let rose = up ? "rose" : "fell", upDown = up ? "up" : "down"
        let hasDuration = f.duration.value >= 1
        if f.stage == .resolved { return resolved(f) }
        switch f.kind {
        case .spike:
            return ["\(subject) spiked to \(peak) at \(t), \(dev) above its baseline of \(base).",
                    "At \(t), \(subject) jumped to \(peak), \(dev) above its usual \(base).",
                    "On \(a), \(s) rose sharply to \(peak) at \(t), \(dev) higher than its baseline of \(base)."]
        case .dip:
            return ["\(subject) dipped to \(peak) at \(t), \(dev) below its baseline of \(base).",
                    "At \(t), \(subject) dropped suddenly to \(peak), \(dev) below its usual \(base).",
                    "On \(a), \(s) fell sharply to \(peak) at \(t), \(dev) lower than its baseline of \(base)."]
        case .levelShift:
            if f.direction == .none { return ["\(subject) shifted level at \(t) and now reads \(peak)."] }
            var out = ["\(subject) shifted \(upDown) to \(peak) at \(t), \(dev) \(above) its baseline of \(base).",
                       "At \(t), \(subject) stepped \(upDown) to a new level of \(peak), \(dev) \(above) its baseline of \(base)."]
            if hasDuration {
                out.append("On \(a), \(s) \(rose) to \(peak) at \(t) and has held there for \(dur), \(dev) \(higher) than its baseline of \(base).")
            }
            return out
        case .drift:
            if f.direction == .none { return ["\(subject) has been drifting since \(t) and reads \(peak)."] }
            var out = ["\(subject) has drifted \(upDown) to \(peak) since \(t), \(dev) \(above) its baseline of \(base).",
                       "Since \(t), \(subject) has been \(up ? "rising" : "falling") slowly and now reads \(peak), \(dev) \(above) its baseline of \(base)."]
            if hasDuration {
                out.append("Over \(dur), \(subject) has crept \(upDown) to \(peak), \(dev) \(above) its baseline of \(base).")
            }
            return out
        case .outOfRange:
            guard let limit = f.limit?.withUnit else {
                return ["\(subject) left its allowed range at \(t) and reads \(peak)."]
            }
            let side = f.limitSide == .low ? "low" : "high"
            let past = f.limitSide == .low ? "below" : "above"
            return ["\(subject) reached \(peak) at \(t), \(past) its \(side) limit of \(limit).",
                    "At \(t), \(subject) crossed its \(side) limit of \(limit) and now reads \(peak).",
                    "\(subject) left its allowed range at \(t): it reads \(peak), \(past) its \(side) limit of \(limit)."]
        case .stuck:
            let lasting = hasDuration ? " for \(dur)" : ""
            return ["\(subject) has been stuck at \(peak)\(lasting) since \(t).",
                    "Since \(t), \(subject) has held a flat \(peak)\(lasting).",
                    "\(subject) froze at \(peak) at \(t) and has read the same value\(lasting) since."]
        case .silence:
            let lasting = hasDuration ? " for \(dur)" : ""
            return ["\(subject) has sent no readings\(lasting) since \(t).",
                    "Since \(t), \(subject) has been silent\(lasting).",
                    "\(subject) went silent at \(t) and has sent no readings\(lasting)."]
        case .oscillation:
            return ["\(subject) has been oscillating since \(t), swinging as far as \(peak) around a baseline of \(base).",
                    "Since \(t), \(subject) has swung back and forth around its baseline of \(base), reaching \(peak).",
                    "\(subject) started to oscillate at \(t), with swings reaching \(peak) around its usual \(base)."]
        case .volatilityShift:
            return ["\(subject) has turned erratic since \(t), reaching \(peak) around a baseline of \(base).",
                    "Since \(t), \(subject) has become unsteady, with readings as far out as \(peak) around its baseline of \(base).",
                    "\(subject) grew noisier at \(t), and its readings now reach \(peak) around a baseline of \(base)."]
        case .seasonal:
            if f.direction == .none {
                return ["\(subject) left its usual daily pattern at \(t), reading \(peak), close to the expected \(base)."]
            }
            return ["\(subject) left its usual daily pattern at \(t) and reads \(peak), \(dev) \(above) the expected \(base).",
                    "At \(t), \(subject) broke from its daily pattern and reads \(peak), \(dev) \(above) the \(base) expected at this hour."]
        case .correlationBreak:
            if f.direction == .none {
                return ["\(subject) broke from its related sensors at \(t) and reads \(peak)."]
            }
            return ["\(subject) broke from its related sensors at \(t) and reads \(peak), \(dev) \(above) its baseline of \(base).",
                    "At \(t), \(subject) broke away from its related sensors; it reads \(peak), \(dev) \(above) its baseline of \(base).",
                    "\(subject) has parted from its related sensors since \(t) and reads \(peak) against a baseline of \(base)."]
        }
    }

    /// A resolved event: that it is over, how long it lasted, and how far it had gone.
    static func resolved(_ f: Facts) -> [String] {
        let subject = "\(f.sensor) on \(f.asset)"
        let peak = f.peak.withUnit, base = f.baseline.withUnit, dev = f.deviation.withUnit, dur = f.duration.withUnit
        let up = f.direction == .up
        let above = up ? "above" : "below"
        switch f.kind {
        case .silence:
            return ["\(subject) is back to normal: its readings returned after \(dur) of silence that began at \(f.startText).",
                    "Readings from \(subject) returned after \(dur) of silence that began at \(f.startText)."]
        case .stuck:
            return ["\(subject) is back to normal after \(dur) stuck at \(peak).",
                    "\(subject) has recovered: it moved again after \(dur) stuck at \(peak)."]
        case .outOfRange:
            guard let limit = f.limit?.withUnit else { break }
            let side = f.limitSide == .low ? "low" : "high"
            let past = f.limitSide == .low ? "below" : "above"
            return ["\(subject) is back within its range after \(dur); it had reached \(peak), \(past) its \(side) limit of \(limit).",
                    "The limit breach on \(subject) has ended after \(dur); it had read \(peak) against a \(side) limit of \(limit)."]
        default:
            break
        }
        let what: String
        switch f.kind {
        case .spike: what = "spiked to \(peak), \(dev) above its baseline of \(base)"
        case .dip: what = "dipped to \(peak), \(dev) below its baseline of \(base)"
        case .levelShift, .drift, .seasonal, .correlationBreak, .outOfRange:
            let verb = [.levelShift: "shifted", .drift: "drifted", .seasonal: "moved"][f.kind] ?? "moved"
            what = f.direction == .none ? "read \(peak) against a baseline of \(base)"
                : "\(verb) \(up ? "up" : "down") to \(peak), \(dev) \(above) its baseline of \(base)"
        case .oscillation: what = "been oscillating as far as \(peak) around a baseline of \(base)"
        case .volatilityShift: what = "been erratic, reaching \(peak) around a baseline of \(base)"
        case .stuck, .silence: what = "read \(peak) against a baseline of \(base)"
        }
        let noun: String = switch f.kind {
        case .seasonal: "departure from its daily pattern"
        case .volatilityShift: "erratic spell"
        case .outOfRange: "limit breach"
        default: f.kind.words
        }
        return ["\(subject) is back to normal after \(dur); it had \(what).",
                "\(subject) has returned to normal after \(dur), ending the \(noun); it had \(what).",
                "The \(noun) of \(f.sensor) on \(f.asset) has ended after \(dur); it had \(what)."]
    }

    /// Ways of saying what moved with it and the listed causes (an opened event only).
    static func second(_ f: Facts) -> [String] {
        guard f.stage == .opened else { return [] }
        let related = Array(f.related.prefix(2))
        let causes = Array(f.causes.prefix(2))
        if f.incident != nil { return incident(f, related, causes) }
        func moved(_ r: RelatedFact, _ style: Int) -> String {
            switch r.direction {
            case .up: return "\(r.name) \(["rose by", "climbed by", "went up by"][style % 3]) \(r.deviation.withUnit)"
            case .down: return "\(r.name) \(["fell by", "dropped by", "went down by"][style % 3]) \(r.deviation.withUnit)"
            case .none: return "\(r.name) \(["held steady at", "stayed at", "held steady at"][style % 3]) \(r.value.withUnit)"
            }
        }
        let causeText = causes.joined(separator: " or ")
        if related.isEmpty {
            guard !causes.isEmpty else { return [] }
            return ["The listed causes for this machine are \(causeText).",
                    "Causes listed for \(f.asset) include \(causeText)."]
        }
        var out: [String] = []
        for style in 0..<3 {
            let parts = related.map { moved($0, style) }.joined(separator: " and ")
            let lead = ["At the same time, ", "Meanwhile, ", "In the same period, "][style]
            if causes.isEmpty {
                out.append(lead + parts + ".")
            } else {
                out.append(lead + parts + "; possibly " + causeText + ".")
            }
        }
        if !causes.isEmpty {
            let parts = related.map { moved($0, 0) }.joined(separator: " and ")
            out.append("At the same time, " + parts + ".")
        }
        return out
    }

    /// An incident's second sentence: what followed, in order, and what the pattern may mean.
    static func incident(_ f: Facts, _ followers: [RelatedFact], _ causes: [String]) -> [String] {
        func which(_ r: RelatedFact) -> String {
            switch r.direction {
            case .up: "\(r.name), which rose by \(r.deviation.withUnit)"
            case .down: "\(r.name), which fell by \(r.deviation.withUnit)"
            case .none: "\(r.name), which held steady at \(r.value.withUnit)"
            }
        }
        func moved(_ r: RelatedFact) -> String {
            switch r.direction {
            case .up: "\(r.name) rose by \(r.deviation.withUnit)"
            case .down: "\(r.name) fell by \(r.deviation.withUnit)"
            case .none: "\(r.name) held steady at \(r.value.withUnit)"
            }
        }
        let cause = causes.isEmpty ? "" : "; together this points to possibly " + causes.joined(separator: " or ")
        let hedge = causes.isEmpty ? "" : "; possibly " + causes.joined(separator: " or ")
        return ["It went first and was followed by " + followers.map(which).joined(separator: " and then by ") + cause + ".",
                "It moved first; then " + followers.map(moved).joined(separator: " and ") + hedge + ".",
                "It was the first to move, followed by " + followers.map(which).joined(separator: " and by ") + cause + "."]
    }
}
