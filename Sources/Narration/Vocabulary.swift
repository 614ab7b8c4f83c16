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
    ]

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
