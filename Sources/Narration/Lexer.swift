import Telemetry

/// Splits a text into the pieces the verifier judges: known names (longest match first), the start
/// time, listed causes, numbers with the unit that follows them, words and punctuation.
struct Lexer: Sendable {
    enum Token: Equatable, Sendable {
        case sensor(SensorID)
        case asset
        case foreign(String)
        case time
        case cause
        case number(value: Double, written: String, decimals: Int, unit: String?)
        case word(String)
        case sentenceEnd
        case punctuation(Character)
    }

    struct Item {
        var token: Token
        var offset: Int
        /// One past the last character (for a number: past its unit).
        var end: Int = 0
    }

    private struct Pattern: Sendable {
        var chars: [Character]
        var token: Token
    }

    private let patterns: [Pattern]
    private let units: [[Character]]

    /// Units the lexer recognises after a number: the facts' own and common others, so that a
    /// number with a wrong unit is caught as such.
    static let commonUnits = ["A", "mA", "V", "kV", "W", "kW", "MW", "Hz", "bar", "mbar", "psi", "Pa", "kPa", "MPa",
                              "rpm", "%", "°C", "°F", "K", "m3/h", "m³/h", "l/s", "L/s", "l/min", "mm/s", "mm", "m",
                              "s", "sec", "seconds", "min", "minutes", "h", "hours", "ms", "g", "kg", "t/h"]

    init(facts: Facts, foreignNames: [String]) {
        var list: [Pattern] = []
        func add(_ text: String, _ token: Token) {
            let chars = Array(text.lowercased())
            guard chars.count >= 2 else { return }
            list.append(Pattern(chars: chars, token: token))
        }
        let time = facts.startText
        add(time, .time)
        if time.count >= 8 { add(String(time.prefix(8)), .time); add(String(time.prefix(5)), .time) }
        for cause in facts.causes {
            add(cause, .cause)
            for article in ["a ", "an ", "the "] where cause.lowercased().hasPrefix(article) {
                add(String(cause.dropFirst(article.count)), .cause)
            }
        }
        let sensors = facts.sensorNames
        let shorts = sensors.map { Lexer.shortName($0.name) }
        for (i, s) in sensors.enumerated() {
            add(s.name, .sensor(s.id))
            add(s.id.rawValue, .sensor(s.id))
            if let short = shorts[i], short.count >= 3,
               shorts.filter({ $0?.lowercased() == short.lowercased() }).count == 1 {
                add(short, .sensor(s.id))
            }
        }
        add(facts.asset, .asset)
        add(facts.assetID, .asset)
        for name in foreignNames { add(name, .foreign(name)) }
        // Longest first; among equals the earlier (own names before foreign ones).
        patterns = list.enumerated().sorted {
            $0.element.chars.count != $1.element.chars.count ? $0.element.chars.count > $1.element.chars.count
                : $0.offset < $1.offset
        }.map(\.element)
        var unitSet = Set<String>()
        var unitList: [String] = []
        let own = Set(facts.numbers.map(\.unit).filter { !$0.isEmpty })
        for u in facts.numbers.map(\.unit) + Lexer.commonUnits where !u.isEmpty && unitSet.insert(u).inserted {
            // `mm` would end `mm/s` early while it is being written.
            if !own.contains(u), own.contains(where: { $0.hasPrefix(u) }) { continue }
            unitList.append(u)
        }
        units = unitList.sorted { $0.count > $1.count }.map(Array.init)
    }

    /// Where a known (own) name, time or cause starts that the text ends in the middle of: the text
    /// from there on is unfinished and judged once it is complete. Nil when the text ends in none.
    func unfinishedNameStart(_ text: [Character]) -> Int? {
        let lower = text.map { Character($0.lowercased()) }
        let n = lower.count
        for start in 0..<n where start == 0 || !Lexer.isWordCharacter(text[start - 1]) {
            let rest = n - start
            for p in patterns where p.chars.count > rest {
                if case .foreign = p.token { continue }
                var same = true
                for k in 0..<rest where lower[start + k] != p.chars[k] {
                    same = false
                    break
                }
                if same { return start }
            }
        }
        return nil
    }

    /// The name without a leading tag (`P-101 motor current` → `motor current`), if it has one.
    static func shortName(_ name: String) -> String? {
        let parts = name.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, looksLikeTag(parts[0].lowercased()) else { return nil }
        return String(parts[1])
    }

    static func isWordCharacter(_ c: Character) -> Bool { c.isLetter || c.isNumber }

    /// A token that mixes letters and digits (`p-102`, `pump3`): a machine tag or identifier.
    static func looksLikeTag(_ w: String) -> Bool {
        w.contains(where: \.isNumber) && w.contains(where: \.isLetter)
    }

    static func words(_ text: String) -> [String] {
        text.lowercased().split { !($0.isLetter || $0.isNumber || $0 == "-") }.map(String.init)
    }

    func lex(_ text: [Character]) -> [Item] {
        let lower = text.map { Character($0.lowercased()) }
        var items: [Item] = []
        var i = 0
        let n = text.count
        func boundaryBefore(_ k: Int) -> Bool { k == 0 || !Lexer.isWordCharacter(text[k - 1]) }
        func boundaryAfter(_ k: Int) -> Bool { k >= n || !Lexer.isWordCharacter(text[k]) }

        scan: while i < n {
            let c = text[i]
            if c == " " || c == "\t" || c == "\n" || c == "\r" { i += 1; continue }
            if boundaryBefore(i) {
                for p in patterns where i + p.chars.count <= n && lower[i] == p.chars[0] {
                    var same = true
                    for k in 1..<p.chars.count where lower[i + k] != p.chars[k] {
                        same = false
                        break
                    }
                    if same, boundaryAfter(i + p.chars.count) {
                        items.append(Item(token: p.token, offset: i, end: i + p.chars.count))
                        i += p.chars.count
                        continue scan
                    }
                }
            }
            let signed = (c == "-" || c == "+") && i + 1 < n && text[i + 1].isNumber && boundaryBefore(i)
            if c.isNumber || signed {
                let start = i
                if signed { i += 1 }
                while i < n, text[i].isNumber { i += 1 }
                var decimals = 0
                if i + 1 < n, text[i] == ".", text[i + 1].isNumber {
                    i += 1
                    while i < n, text[i].isNumber { i += 1; decimals += 1 }
                }
                let written = String(text[start..<i])
                // A digit glued to letters (`3rd`, `m3`) is part of a word: treat it as one.
                if i < n, text[i].isLetter, !(text[i] == "°") {
                    var j = i
                    while j < n, Lexer.isWordCharacter(text[j]) { j += 1 }
                    let w = String(lower[start..<j])
                    if !units.contains(where: { String($0) == String(text[i..<j]) }) {
                        items.append(Item(token: .word(w), offset: start, end: j))
                        i = j
                        continue
                    }
                }
                var unit: String?
                var k = i
                if k < n, text[k] == " " { k += 1 }
                for u in units where k + u.count <= n && text[k] == u[0] && Array(text[k..<(k + u.count)]) == u {
                    let end = k + u.count
                    let lastIsWord = u.last.map(Lexer.isWordCharacter) ?? false
                    if !lastIsWord || boundaryAfter(end) {
                        unit = String(u)
                        i = end
                        break
                    }
                }
                let value = Double(written.hasPrefix("+") ? String(written.dropFirst()) : written) ?? .nan
                items.append(Item(token: .number(value: value, written: written, decimals: decimals, unit: unit),
                                  offset: start, end: i))
                continue
            }
            if c.isLetter {
                let start = i
                while i < n {
                    if Lexer.isWordCharacter(text[i]) || text[i] == "'" { i += 1; continue }
                    if text[i] == "-", i + 1 < n, Lexer.isWordCharacter(text[i + 1]) { i += 1; continue }
                    break
                }
                var w = String(lower[start..<i])
                if w.hasSuffix("'s") { w.removeLast(2) }
                items.append(Item(token: .word(w), offset: start, end: i))
                continue
            }
            if c == "." || c == "!" || c == "?" {
                let end = i + 1 >= n || text[i + 1] == " " || text[i + 1] == "\n"
                items.append(Item(token: end ? .sentenceEnd : .punctuation(c), offset: i, end: i + 1))
                i += 1
                continue
            }
            items.append(Item(token: .punctuation(c), offset: i, end: i + 1))
            i += 1
        }
        return items
    }
}
