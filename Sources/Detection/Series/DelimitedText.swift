/// Splits delimited text (CSV, `;`- or tab-separated) into lines and fields.
/// Quoted fields (`"a;b"`, `""` for a quote) are honoured; lines end with LF or CRLF.
public enum DelimitedText {
    /// The separator of a header line: the most frequent of `,` `;` tab outside quotes (`,` when none).
    public static func detectSeparator(header: Substring) -> Character {
        var counts: [Character: Int] = [",": 0, ";": 0, "\t": 0]
        var quoted = false
        for c in header {
            if c == "\"" { quoted.toggle() } else if !quoted, counts[c] != nil { counts[c]! += 1 }
        }
        let best = counts.max { a, b in a.value < b.value || (a.value == b.value && rank(a.key) > rank(b.key)) }
        guard let best, best.value > 0 else { return "," }
        return best.key
    }

    private static func rank(_ c: Character) -> Int { c == "," ? 0 : (c == ";" ? 1 : 2) }

    /// The lines of a text without their terminators; a final empty line is dropped.
    public static func lines(_ text: String) -> [Substring] {
        // "\r\n" is one Character in Swift, so both terminators are matched as characters.
        var lines = text.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r\n" }
        if lines.last?.isEmpty == true { lines.removeLast() }
        return lines.map { $0.last == "\r" ? $0.dropLast() : $0 }
    }

    /// The fields of one line, unquoted.
    public static func fields(_ line: Substring, separator: Character) -> [Substring] {
        if !line.contains("\"") { return line.split(separator: separator, omittingEmptySubsequences: false) }
        var fields: [Substring] = []
        var current = ""
        var quoted = false
        var index = line.startIndex
        while index < line.endIndex {
            let c = line[index]
            if quoted {
                if c == "\"" {
                    let next = line.index(after: index)
                    if next < line.endIndex, line[next] == "\"" {
                        current.append("\"")
                        index = next
                    } else {
                        quoted = false
                    }
                } else {
                    current.append(c)
                }
            } else if c == "\"" {
                quoted = true
            } else if c == separator {
                fields.append(Substring(current))
                current = ""
            } else {
                current.append(c)
            }
            index = line.index(after: index)
        }
        fields.append(Substring(current))
        return fields
    }
}
