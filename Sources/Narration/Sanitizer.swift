/// Cleans catalog strings before they reach a prompt or an alert: a bounded length and a small,
/// safe alphabet, so a hostile catalog cannot smuggle instructions or control characters into the model.
public enum Sanitizer {
    public static let maxNameLength = 48
    public static let maxUnitLength = 12

    static let extraNameCharacters: Set<Character> = [" ", "-", "_", ".", "/", "(", ")", "#", "%", "°", "³", "²", "+"]
    static let extraUnitCharacters: Set<Character> = ["/", "%", "°", "³", "²", ".", "-", "µ", "·"]

    /// Letters, digits, spaces and a few separators; runs of space collapsed; at most `maxNameLength`.
    public static func name(_ raw: String, fallback: String) -> String {
        clean(raw, allowed: extraNameCharacters, limit: maxNameLength) ?? fallback
    }

    /// Letters, digits and unit symbols, no spaces; at most `maxUnitLength`.
    public static func unit(_ raw: String) -> String {
        clean(raw.filter { $0 != " " }, allowed: extraUnitCharacters, limit: maxUnitLength) ?? ""
    }

    private static func clean(_ raw: String, allowed: Set<Character>, limit: Int) -> String? {
        var out = ""
        var lastSpace = true
        for c in raw {
            let ok = (c.isASCII && (c.isLetter || c.isNumber)) || allowed.contains(c)
            let isSpace = c == " " || c == "\t" || !ok
            if isSpace {
                if !lastSpace, allowed.contains(" ") { out.append(" ") }
                lastSpace = true
                continue
            }
            out.append(c)
            lastSpace = false
            if out.count >= limit { break }
        }
        while out.last == " " { out.removeLast() }
        return out.isEmpty ? nil : out
    }
}
