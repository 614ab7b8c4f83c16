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
        guard line.contains("\""), let byte = separator.asciiValue else {
            return line.split(separator: separator, omittingEmptySubsequences: false)
        }
        return fields(ArraySlice(line.utf8), separator: byte).map { Substring($0) }
    }

    /// The fields of one line of bytes, unquoted and decoded as UTF-8 (the one splitter: recordings use it
    /// directly, tables of text through the line form above).
    public static func fields(_ line: ArraySlice<UInt8>, separator: UInt8) -> [String] {
        let quote = UInt8(ascii: "\"")
        var fields: [String] = []
        var field: [UInt8] = []
        var quoted = false
        var i = line.startIndex
        while i < line.endIndex {
            let c = line[i]
            if quoted {
                if c != quote {
                    field.append(c)
                } else if i + 1 < line.endIndex, line[i + 1] == quote {
                    field.append(c)
                    i += 1
                } else {
                    quoted = false
                }
            } else if c == quote {
                quoted = true
            } else if c == separator {
                fields.append(String(decoding: field, as: UTF8.self))
                field.removeAll(keepingCapacity: true)
            } else {
                field.append(c)
            }
            i += 1
        }
        fields.append(String(decoding: field, as: UTF8.self))
        return fields
    }
}
