/// Steers generation while it happens: a number can only be one of the facts' numbers (or the start
/// time), written exactly as Vigil wrote it and followed by its own unit; a machine tag can only be one
/// from the facts; no character the verifier rejects. It judges the whole text so far, so it works
/// with any tokenizer: the engine asks it about `generated + candidate`.
public struct FactConstraint: Sendable {
    /// Number text → the units it may be followed by ("" for a unitless fact).
    let numbers: [String: Set<String>]
    let times: [String]
    let tags: Set<String>

    public init(facts: Facts) {
        var numbers: [String: Set<String>] = [:]
        for f in facts.numbers { numbers[f.text, default: []].insert(f.unit) }
        self.numbers = numbers
        let t = facts.startText
        times = t.count >= 8 ? [String(t.prefix(8)), String(t.prefix(5))] : []
        var tags = Set<String>()
        for name in [facts.asset, facts.sensor] + facts.related.map(\.name) {
            for w in Lexer.words(name) where Lexer.looksLikeTag(w) { tags.insert(w) }
        }
        self.tags = tags
    }

    public func allows(_ text: String) -> Bool {
        let c = Array(text)
        let n = c.count
        var i = 0
        while i < n {
            let ch = c[i]
            if ch == "\n" { return true }   // a stop string: the engine ends here
            guard Verifier.allowedCharacter(ch) else { return false }
            if ch.isLetter {
                // A word (letters, digits, inner hyphens): a tag must be one of the facts'.
                let start = i
                while i < n, c[i].isLetter || c[i].isNumber || (c[i] == "-" && i + 1 < n && (c[i + 1].isLetter || c[i + 1].isNumber)) {
                    i += 1
                }
                let atEnd = i == n || (i == n - 1 && c[i] == "-")
                let word = String(c[start..<i]).lowercased()
                if Lexer.looksLikeTag(word) || (atEnd && word.contains("-")) {
                    if atEnd {
                        if !tags.contains(where: { $0.hasPrefix(word) }) && !unitLike(word) { return false }
                    } else if !tags.contains(word) && !unitLike(word) {
                        return false
                    }
                }
                continue
            }
            let signed = (ch == "-" || ch == "+") && (i == 0 || c[i - 1] == " ") && i + 1 < n && c[i + 1].isNumber
            if ch.isNumber || signed {
                let start = i
                if signed { i += 1 }
                while i < n, c[i].isNumber || ((c[i] == "." || c[i] == ":") && i + 1 < n && c[i + 1].isNumber) { i += 1 }
                // A trailing "." or ":" at the very end may still become part of the number.
                let pending = i == n - 1 && (c[i] == "." || c[i] == ":")
                let written = String(c[start..<(pending ? n : i)])
                if i == n || pending {
                    return numbers.keys.contains { $0.hasPrefix(written) } || times.contains { $0.hasPrefix(written) }
                }
                if times.contains(written) { continue }
                guard let units = numbers[written] else { return false }
                if units.contains("") && c[i] != " " { continue }
                // Exactly one space and the unit.
                let rest = String(c[i..<min(n, i + 12)])
                let ok = units.contains { u in
                    let want = " " + u
                    return want.hasPrefix(rest) || rest.hasPrefix(want)
                        && (rest.count == want.count || !Array(rest)[want.count].isLetter)
                }
                if !ok { return false }
                i += 1
                continue
            }
            i += 1
        }
        return true
    }

    /// Units glued to digits (`m3`) are words too.
    private func unitLike(_ word: String) -> Bool {
        ["m3", "m3/h", "m³"].contains(where: { $0.hasPrefix(word) })
    }
}
