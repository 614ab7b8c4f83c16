import Foundation
import Telemetry

/// The one alphabet of alert text: what the sanitiser lets into names and units, what the verifier and
/// the generation constraint accept in a text. Letters and digits of every script (after NFC), spaces and
/// a few separators and unit symbols; no quotes, no brackets beyond `()`, no control characters.
public enum Alphabet {
    /// The micro sign every text uses (U+00B5); the Greek small mu (U+03BC) is read as it.
    public static let micro: Character = "\u{00B5}"
    static let greekMu: Character = "\u{03BC}"

    static let separators: Set<Character> = [
        " ", ",", ".", ";", ":", "'", "(", ")", "-", "/", "%", "+", "_", "#", "&",
    ]
    static let unitSymbols: Set<Character> = [
        "°", "³", "²", "¹", micro, "·", "‰", "Ω", "⁻", "₀", "₁", "₂", "₃", "₄", "₅", "₆", "₇", "₈", "₉",
    ]

    /// Whether `c` may appear in a name, a unit or an alert.
    public static func allows(_ c: Character) -> Bool {
        if c.isLetter || c.isNumber { return !c.unicodeScalars.contains { $0.properties.generalCategory == .format } }
        if separators.contains(c) || unitSymbols.contains(c) { return true }
        // A letter with a combining mark NFC could not compose stays one character whose first scalar is a letter.
        if let first = c.unicodeScalars.first, first.properties.isAlphabetic { return true }
        return false
    }

    /// NFC, one micro sign.
    public static func normalize(_ text: String) -> String {
        var out = text.precomposedStringWithCanonicalMapping
        if out.contains(greekMu) { out = String(out.map { $0 == greekMu ? micro : $0 }) }
        return out
    }
}

/// Cleans catalog strings before they reach a prompt or an alert: a bounded length and the shared
/// alphabet, so a hostile catalog cannot smuggle quotes, instructions in brackets or control characters
/// into the model, and the verifier accepts every name the sanitiser lets through.
public enum Sanitizer {
    public static let maxNameLength = 48
    public static let maxUnitLength = 12

    /// Letters of any script, digits, spaces and the alphabet's separators; anything else becomes a
    /// space; runs of space collapsed; longer than `maxNameLength`, cut at the last word boundary.
    public static func name(_ raw: String, fallback: String) -> String {
        var out = ""
        var lastSpace = true
        for c in Alphabet.normalize(raw) {
            if c == " " || !Alphabet.allows(c) || c.isNewline {
                if !lastSpace { out.append(" ") }
                lastSpace = true
                continue
            }
            out.append(c)
            lastSpace = false
        }
        while out.last == " " { out.removeLast() }
        if out.count > maxNameLength {
            let head = String(out.prefix(maxNameLength + 1))
            if let space = head.lastIndex(of: " "), head.distance(from: head.startIndex, to: space) >= 8 {
                out = String(head[..<space])
            } else {
                out = String(out.prefix(maxNameLength))
            }
            while let last = out.last, last == " " || last == "-" || last == "," || last == "/" { out.removeLast() }
        }
        return out.isEmpty ? fallback : out
    }

    /// The unit as the catalog writes it (NFC, one micro sign, spaces removed), or "" when it has a
    /// character outside the alphabet or is too long: `unitProblem` says which, for the configuration check.
    public static func unit(_ raw: String) -> String {
        unitProblem(raw) == nil ? cleanUnit(raw) : ""
    }

    static func cleanUnit(_ raw: String) -> String {
        Alphabet.normalize(raw).filter { $0 != " " }
    }

    /// Why a catalog unit cannot be used as it is written; nil when it can.
    public static func unitProblem(_ raw: String) -> String? {
        let unit = cleanUnit(raw)
        if unit.count > maxUnitLength { return "unit \"\(raw)\" is longer than \(maxUnitLength) characters" }
        if let bad = unit.first(where: { !Alphabet.allows($0) || $0 == "," || $0 == ";" || $0 == ":" }) {
            let code = bad.unicodeScalars.map { "U+" + String($0.value, radix: 16, uppercase: true) }.joined(separator: " ")
            return "unit \"\(raw)\" has the character \(code), which alert text cannot carry"
        }
        return nil
    }

    /// Every unit of `catalog` that narration would refuse: a configuration error, reported before the
    /// agent runs, rather than a unit silently changed in an alert.
    public static func catalogProblems(_ catalog: Catalog) -> [String] {
        catalog.sensors.compactMap { s in unitProblem(s.unit).map { "sensor \(s.id.rawValue): \($0)" } }
    }
}
