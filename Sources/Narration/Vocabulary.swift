import Detection

/// Word lists the verifier uses. Lower case; matched against whole words of the text after known
/// names, the start time and the listed causes have been taken out.
enum Vocabulary {
    /// The words an alert may use besides names, numbers, units, the time and the listed causes:
    /// enough for plain, varied English about a measurement, and nothing to invent a fault, a machine
    /// or an instruction with. No negations ("did not fall" would turn a direction word around).
    static let lexicon: Set<String> = [
        // function words
        "a", "an", "the", "on", "of", "at", "to", "from", "by", "for", "since", "in", "over", "during", "after",
        "before", "around", "about", "as", "than", "and", "or", "but", "while", "with", "its", "it", "this",
        "that", "which", "is", "was", "has", "have", "had", "been", "be", "now", "still", "also", "then", "so",
        "same", "time", "where", "when", "both", "their", "per", "just", "only", "nearly", "almost", "far",
        "more", "less", "much", "very", "slightly", "no",
        // what happened
        "spiked", "spike", "dipped", "dip", "rose", "risen", "rising", "fell", "fallen", "falling", "jumped",
        "climbed", "climbing", "dropped", "dropping", "increased", "decreased", "increasing", "decreasing",
        "shifted", "shift", "drifted", "drifting", "drift", "reached", "reaching", "reads", "reading", "read",
        "stuck", "held", "holding", "steady", "flat", "unchanged", "sent", "readings", "reading", "silent",
        "silence", "oscillating", "oscillation", "swinging", "swung", "turned", "erratic", "volatile",
        "volatility", "broke", "break", "correlation", "moving", "moved", "move", "together", "related",
        "sensors", "sensor", "peaked", "peak", "back", "normal", "normally", "usual", "usually", "typically",
        "expected", "pattern", "daily", "seasonal", "left", "out", "range", "allowed", "limit", "high", "low",
        "above", "below", "up", "down", "higher", "lower", "baseline", "value", "values", "level", "change",
        "changed", "unusual", "unusually", "sharp", "sharply", "sudden", "suddenly", "briefly", "slowly",
        "gradually", "steadily", "against", "close", "beyond", "within", "compared", "alert", "event",
        "following", "followed", "same", "last", "first", "seconds", "minutes", "hours",
        // the end of an event (resolved events only)
        "resolved", "ended", "returned", "recovered", "cleared",
        // hedges, allowed only together with a listed cause
        "possibly", "possible", "cause", "causes", "listed", "machine", "likely",
        // more ways of saying it (the reference texts use them)
        "stayed", "there", "stepped", "new", "crept", "crossed", "went", "froze", "have", "are", "forth",
        "started", "oscillate", "swings", "become", "became", "unsteady", "noisier", "reach", "hour",
        "parted", "worst", "began", "include", "meanwhile", "period", "again", "exactly", "higher", "lower",
        "points", "together", "away", "ending", "departure", "spell", "breach",
    ]

    /// Words that belong to one kind of event: said of another kind they misname it (an oscillation is not
    /// erratic, a stuck reading has not shifted).
    static let kindWords: [String: AnomalyKind] = {
        var map: [String: AnomalyKind] = [:]
        let lists: [(AnomalyKind, [String])] = [
            (.spike, ["spiked", "spike", "spikes"]),
            (.dip, ["dipped", "dip", "dips"]),
            (.levelShift, ["shifted", "shift", "shifts", "stepped"]),
            (.drift, ["drifted", "drifting", "drift", "drifts", "crept"]),
            (.stuck, ["stuck", "froze", "frozen", "flat"]),
            (.silence, ["silent", "silence"]),
            (.oscillation, ["oscillating", "oscillation", "oscillate", "oscillated", "swinging", "swung", "swings", "swing"]),
            (.volatilityShift, ["erratic", "volatile", "volatility", "unsteady", "noisier", "noisy"]),
            (.seasonal, ["daily", "seasonal", "pattern"]),
            (.correlationBreak, ["correlation", "parted", "broke"]),
        ]
        for (kind, words) in lists { for w in words { map[w] = kind } }
        return map
    }()

    /// Finite verbs: every sentence needs one (`CT-5 basin temperature up 2.4 °C.` is a fragment).
    static let finiteVerbs: Set<String> = [
        "is", "was", "are", "were", "has", "have", "had", "rose", "fell", "jumped", "climbed", "dropped", "increased",
        "decreased", "spiked", "dipped", "shifted", "drifted", "reached", "reads", "held", "sent", "swung", "turned",
        "broke", "peaked", "moved", "changed", "left", "returned", "recovered", "cleared", "ended", "resolved",
        "stepped", "crept", "froze", "went", "became", "started", "include", "includes", "crossed", "stayed",
        "began", "grew", "surged", "sank", "plunged", "declined", "gained", "exceeded", "stands", "remains", "remained",
    ]

    /// Words right after a number that say what it is (`18.1 A above its baseline`: a change).
    static let numberRolesAfter: [String: Set<FactNumber.Role>] = [
        "above": [.deviation, .relatedDeviation], "below": [.deviation, .relatedDeviation],
        "higher": [.deviation, .relatedDeviation], "lower": [.deviation, .relatedDeviation],
        "more": [.deviation, .relatedDeviation], "less": [.deviation, .relatedDeviation],
        "expected": [.baseline, .relatedBaseline],
    ]

    /// Nouns that say which fact the number after them is, up to two words on (`its baseline of 30.1 A`).
    static let numberNouns: [String: Set<FactNumber.Role>] = [
        "limit": [.limit], "baseline": [.baseline, .relatedBaseline], "usual": [.baseline, .relatedBaseline],
        "expected": [.baseline, .relatedBaseline], "level": [.peak, .relatedValue], "flat": [.peak, .relatedValue],
    ]

    /// Words after which the start time would be a duration (`no readings for 22:26:04 UTC`).
    static let durationWords: Set<String> = ["for", "after", "over", "lasting"]

    /// Words that say what happened: a sentence needs one of these, a number, the time or a cause.
    static let predicates: Set<String> = up.union(down).union([
        "spiked", "spike", "dipped", "dip", "shifted", "shift", "drifted", "drifting", "drift", "reached", "reaching",
        "reads", "reading", "read", "stuck", "held", "holding", "steady", "flat", "unchanged", "sent", "silent",
        "silence", "oscillating", "oscillation", "swinging", "swung", "turned", "erratic", "volatile", "volatility",
        "broke", "peaked", "moved", "moving", "changed", "left", "back", "resolved", "ended", "returned",
        "recovered", "cleared",
    ])

    /// Words a finished sentence cannot end on (`… dropped by.`, `… at the.`).
    static let danglingEnds: Set<String> = [
        "a", "an", "the", "on", "of", "at", "to", "from", "by", "for", "since", "in", "over", "during", "after",
        "before", "around", "about", "as", "than", "and", "or", "but", "while", "with", "its", "it", "this", "that",
        "which", "is", "was", "has", "have", "had", "been", "be", "where", "when", "both", "their", "per", "just",
        "only", "nearly", "almost", "more", "less", "much", "very", "slightly", "no", "reads", "reached", "reaching",
        "reading", "compared", "against", "within", "beyond", "close", "same", "also", "still", "then", "so",
        "possibly", "possible", "likely", "listed", "above", "below", "following", "followed",
    ]

    /// Words that hedge a listed cause (`possibly a stuck valve`).
    static let hedges: Set<String> = ["possibly", "possible", "likely"]
    /// Words after which a number is a value, never the time (`decreased to 06:22:56 UTC`).
    static let valueWords: Set<String> = ["to", "by", "reaching", "reached", "reads", "reading", "of"]

    /// `broke down` reads as a breakdown: a fault, not a broken correlation.
    static let breakWords: Set<String> = ["broke", "break", "breaks"]
    /// Words that say an event is over (wrong for an open one).
    static let overWords: Set<String> = ["resolved", "ended", "returned", "recovered", "cleared"]
    /// Words that say an event is going on (wrong for a resolved one).
    static let ongoingWords: Set<String> = ["still", "now"]

    /// Words that say which fact the number right after them is ("rose to" a value, "by" a change,
    /// "for" a duration).
    static let numberRoles: [String: Set<FactNumber.Role>] = [
        // A limit only where the words say so (`its high limit of 95.0 %`): `reached 1800 rpm` is a value.
        "to": [.peak, .relatedValue],
        "at": [.peak, .relatedValue],
        "reaching": [.peak, .relatedValue],
        "reached": [.peak, .relatedValue],
        "reads": [.peak, .relatedValue],
        "reading": [.peak, .relatedValue],
        "by": [.deviation, .relatedDeviation],
        // A movement right before a number says how far it moved (`fell 0.47 m/s`, `down 0.47 m/s`).
        "up": [.deviation, .relatedDeviation],
        "down": [.deviation, .relatedDeviation],
        "rose": [.deviation, .relatedDeviation],
        "fell": [.deviation, .relatedDeviation],
        "jumped": [.deviation, .relatedDeviation],
        "climbed": [.deviation, .relatedDeviation],
        "dropped": [.deviation, .relatedDeviation],
        "increased": [.deviation, .relatedDeviation],
        "decreased": [.deviation, .relatedDeviation],
        "from": [.baseline, .relatedBaseline],
        "is": [.peak, .relatedValue],
        "was": [.peak, .relatedValue],
        "as": [.peak, .relatedValue],
        "for": [.duration],
        "after": [.duration],
        "over": [.duration],
    ]

    static let up: Set<String> = [
        "rose", "risen", "rise", "rises", "rising", "increased", "increase", "increases", "increasing",
        "climbed", "climbing", "climbs", "jumped", "spiked", "surged", "higher", "above", "up", "upward",
        "upwards", "grew", "gained", "exceeded",
    ]
    static let down: Set<String> = [
        "fell", "fallen", "fall", "falls", "falling", "dropped", "drop", "drops", "dropping", "decreased",
        "decrease", "decreases", "decreasing", "declined", "declining", "dipped", "lower", "below", "down",
        "downward", "downwards", "sank", "plunged", "plummeted",
    ]
    static let movements: Set<String> = [
        "drifted", "drifting", "shifted", "shifting", "moved", "moving", "went", "jumped", "climbed", "stepped",
        "ramped", "rose", "spiked", "crept", "gone",
    ]
    static let instructions: Set<String> = [
        "shut", "shutdown", "restart", "reset", "inspect", "inspection", "replace", "repair", "evacuate",
        "isolate", "should", "must", "recommend", "recommended", "please", "immediately", "urgently", "ensure",
        "verify", "investigate", "check", "call", "contact", "operator", "operators", "maintenance", "technician",
        "action", "required",
    ]
    static let selfReference: Set<String> = ["i", "we", "me", "us", "you", "your", "sorry"]
    static let speculation: Set<String> = [
        "because", "due", "caused", "cause", "causes", "causing", "indicate", "indicates", "indicating",
        "suggest", "suggests", "suggesting", "sign", "likely", "probably", "possibly", "possible", "may", "might",
        "could", "perhaps", "suspect", "suspected", "consistent", "reason",
    ]
    static let faults: Set<String> = [
        "leak", "leaks", "leaking", "leakage", "wear", "worn", "cavitation", "cavitating", "fouling", "fouled",
        "blockage", "blocked", "clog", "clogged", "failure", "failing", "failed", "fail", "fault", "faulty",
        "damage", "damaged", "broken", "crack", "cracked", "corrosion", "overheating", "overheat", "overheated",
        "fire", "explosion", "rupture", "misalignment", "misaligned", "imbalance", "unbalanced", "unbalance",
        "loose", "looseness", "friction", "seized", "seizure", "tripped", "stall", "stalled", "surge", "malfunction",
        "malfunctioning", "error", "defect", "defective", "bearing", "bearings", "lubrication", "strainer", "valve",
        "transmitter", "contamination", "dirty", "frozen", "ice", "sabotage", "outage", "attack", "short-circuit",
        "dry", "icing", "vandalism", "disconnected", "cable", "wiring", "battery",
    ]
    static let equipment: Set<String> = [
        "pump", "pumps", "fan", "fans", "tank", "tanks", "compressor", "compressors", "motor", "motors", "valve",
        "valves", "boiler", "boilers", "turbine", "turbines", "exchanger", "exchangers", "conveyor", "mixer",
        "chiller", "heater", "generator", "engine", "blower", "vessel", "reactor", "pipe", "pipeline", "filter",
        "cooler", "tower", "gearbox",
    ]

    /// Up or down for a direction word (`up to` excepted, which states a bound, not a movement, unless a
    /// word of movement comes before it: `drifted up to 33.4 A`).
    static func polarity(of word: String, following: Lexer.Token?, preceding: String? = nil) -> Direction? {
        if up.contains(word) {
            if word == "up", case .word("to")? = following, !movements.contains(preceding ?? "") { return nil }
            return .up
        }
        if down.contains(word) { return .down }
        return nil
    }

    static func isInstructionPhrase(_ items: [Lexer.Item], at index: Int) -> Bool {
        guard case .word(let w) = items[index].token, index + 1 < items.count,
              case .word(let next) = items[index + 1].token else { return false }
        switch w {
        case "turn", "switch": return next == "off" || next == "on"
        case "stop": return next == "the" || next == "it" || next == "pump" || next == "fan"
        case "open", "close": return next == "the"
        case "need", "needs": return next == "to"
        default: return false
        }
    }
}
