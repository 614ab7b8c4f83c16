import Detection

/// How the model is asked.
public enum PromptStyle: String, Sendable, Codable, CaseIterable {
    /// Plain completion: an instruction line, worked examples, then the event's facts and `Alert:`.
    case fewShot = "few-shot"
    /// The model's chat template with the facts in the user turn (for comparison).
    case chat
}

/// A prompt split at the point where the event's own text begins: `prefix` is the same for every
/// event, so the engine computes it once and reuses its KV cache.
public struct Prompt: Sendable, Equatable {
    public var prefix: String
    public var suffix: String
    public var stop: [String]
    /// The start of the alert, written by Vigil at the end of the prompt (`P-101 motor current on Pump P-101`);
    /// the model continues it. Empty when the model writes the whole alert.
    public var answerStart: String
    public var text: String { prefix + suffix }
}

public enum PromptBuilder {
    /// One line of facts, in the order the alert should say them.
    public static func factLine(_ f: Facts) -> String {
        var parts = ["machine: \(f.asset)", "sensor: \(f.sensor)"]
        let stage = f.stage == .resolved ? "resolved \(f.kind.words)" : f.kind.words
        parts.append("event: \(stage) at \(f.startText)")
        switch f.kind {
        case .silence:
            parts.append("no readings for: \(f.duration.withUnit)")
        case .stuck:
            parts.append("stuck at: \(f.peak.withUnit)")
            if f.duration.value >= 1 { parts.append("for: \(f.duration.withUnit)") }
        default:
            parts.append("value: \(f.peak.withUnit)")
            parts.append("baseline: \(f.baseline.withUnit)")
            switch f.direction {
            case .up: parts.append("change: up \(f.deviation.withUnit)")
            case .down: parts.append("change: down \(f.deviation.withUnit)")
            case .none: break
            }
            if let limit = f.limit, f.kind == .outOfRange { parts.append("limit: \(limit.withUnit)") }
            if f.duration.value >= 1, f.kind == .drift || f.kind == .levelShift || f.stage == .resolved {
                parts.append("for: \(f.duration.withUnit)")
            }
        }
        if f.stage == .opened {
            let related = f.related.prefix(2).map { r -> String in
                switch r.direction {
                case .up: "\(r.name) up \(r.deviation.withUnit)"
                case .down: "\(r.name) down \(r.deviation.withUnit)"
                case .none: "\(r.name) steady at \(r.value.withUnit)"
                }
            }
            if !related.isEmpty { parts.append("related: " + related.joined(separator: ", ")) }
            if !f.causes.isEmpty { parts.append("listed causes: " + f.causes.prefix(2).joined(separator: ", ")) }
        }
        return parts.joined(separator: " | ")
    }

    static let instruction = """
        Each alert is one or two plain sentences for a plant operator. It names the sensor and the machine, \
        says which way the value moved and by how much, and what moved with it. Numbers, units and names \
        are copied exactly from the facts.
        """

    /// Worked examples on machines that are in no plant catalog, one per common kind of event, written
    /// the way the verifier wants: the numbers, units and names of the facts, the direction in words.
    static let examples: [(facts: String, alert: String)] = [
        ("machine: Compressor C-7 | sensor: C-7 outlet temperature | event: spike at 14:02:11 UTC | value: 88.4 °C | baseline: 71.0 °C | change: up 17.4 °C | related: C-7 motor current up 3.2 A",
         "C-7 outlet temperature on Compressor C-7 spiked to 88.4 °C at 14:02:11 UTC, 17.4 °C above its baseline of 71.0 °C. At the same time, C-7 motor current rose by 3.2 A."),
        ("machine: Blower B-3 | sensor: B-3 air flow | event: level shift at 02:40:00 UTC | value: 410 m3/h | baseline: 520 m3/h | change: down 110 m3/h | for: 50 s | related: B-3 motor current down 1.5 A | listed causes: a clogged filter",
         "B-3 air flow on Blower B-3 shifted down to 410 m3/h at 02:40:00 UTC, 110 m3/h below its baseline of 520 m3/h. At the same time, B-3 motor current fell by 1.5 A; possibly a clogged filter."),
        ("machine: Boiler K-2 | sensor: K-2 steam pressure | event: correlation break at 11:20:05 UTC | value: 8.15 bar | baseline: 8.57 bar | change: down 0.42 bar | related: K-2 feed flow up 2.4 m3/h",
         "K-2 steam pressure on Boiler K-2 broke from its related sensors at 11:20:05 UTC and reads 8.15 bar, 0.42 bar below its baseline of 8.57 bar. At the same time, K-2 feed flow rose by 2.4 m3/h."),
        ("machine: Mixer M-9 | sensor: M-9 shaft speed | event: volatility shift at 21:07:45 UTC | value: 935 rpm | baseline: 900 rpm | related: M-9 motor current steady at 12.1 A | listed causes: a loose coupling",
         "M-9 shaft speed on Mixer M-9 has turned erratic since 21:07:45 UTC, reaching 935 rpm around a baseline of 900 rpm, possibly a loose coupling."),
        ("machine: Chiller H-5 | sensor: H-5 supply temperature | event: stuck at 09:15:30 UTC | stuck at: 6.2 °C | for: 12 min",
         "H-5 supply temperature on Chiller H-5 has been stuck at 6.2 °C for 12 min since 09:15:30 UTC."),
        ("machine: Conveyor V-8 | sensor: V-8 belt load | event: drift at 05:31:00 UTC | value: 61.5 % | baseline: 52.0 % | change: up 9.5 % | for: 25 min | listed causes: a worn idler",
         "V-8 belt load on Conveyor V-8 has drifted up to 61.5 % since 05:31:00 UTC, 9.5 % above its baseline of 52.0 %, possibly a worn idler."),
        ("machine: Boiler K-2 | sensor: K-2 feed flow | event: silence at 04:10:00 UTC | no readings for: 45 s | listed causes: a communication fault",
         "K-2 feed flow on Boiler K-2 has sent no readings for 45 s since 04:10:00 UTC, possibly a communication fault."),
        ("machine: Chiller H-5 | sensor: H-5 condenser level | event: out of range at 16:45:00 UTC | value: 97.3 % | baseline: 80.1 % | change: up 17.2 % | limit: 95.0 %",
         "H-5 condenser level on Chiller H-5 reached 97.3 % at 16:45:00 UTC, above its high limit of 95.0 %."),
    ]

    public static func build(_ facts: Facts, style: PromptStyle, forcedStart: Bool = true) -> Prompt {
        let start = forcedStart ? "\(facts.sensor) on \(facts.asset)" : ""
        switch style {
        case .fewShot:
            var prefix = instruction + "\n\n"
            for e in examples { prefix += "Facts: \(e.facts)\nAlert: \(e.alert)\n\n" }
            prefix += "Facts:"
            return Prompt(prefix: prefix, suffix: " " + factLine(facts) + "\nAlert:" + (start.isEmpty ? "" : " " + start),
                          stop: ["\n"], answerStart: start)
        case .chat:
            let system = "You write short, factual plant alerts: one or two sentences, numbers and names copied exactly from the facts."
            let prefix = "<|im_start|>system\n\(system)<|im_end|>\n<|im_start|>user\nWrite the alert for these facts: "
            return Prompt(prefix: prefix, suffix: factLine(facts) + "<|im_end|>\n<|im_start|>assistant\n" + start,
                          stop: ["<|im_end|>", "\n"], answerStart: start)
        }
    }
}
