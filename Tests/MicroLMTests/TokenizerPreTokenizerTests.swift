import MicroLM
import Testing

/// Pieces derived by hand from the regular expressions llama.cpp uses for each rule set.
struct SplitCase: Sendable, CustomTestStringConvertible {
    let rule: PreTokenizer
    let text: String
    let pieces: [String]
    var testDescription: String { "\(rule) \(String(reflecting: text))" }
}

@Suite("Pre-tokenizer rules")
struct TokenizerPreTokenizerTests {
    static let cases: [SplitCase] = [
        // gpt2: 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
        SplitCase(rule: .gpt2, text: "Hello world", pieces: ["Hello", " world"]),
        SplitCase(rule: .gpt2, text: "  leading", pieces: [" ", " leading"]),
        SplitCase(rule: .gpt2, text: "a   b", pieces: ["a", "  ", " b"]),
        SplitCase(rule: .gpt2, text: "trailing   ", pieces: ["trailing", "   "]),
        SplitCase(rule: .gpt2, text: "I'm they're 'LL", pieces: ["I", "'m", " they", "'re", " '", "LL"]),
        SplitCase(rule: .gpt2, text: "x=12345+2", pieces: ["x", "=", "12345", "+", "2"]),
        SplitCase(rule: .gpt2, text: "\n\nfoo", pieces: ["\n", "\n", "foo"]),
        SplitCase(rule: .gpt2, text: "héllo wörld", pieces: ["héllo", " wörld"]),
        SplitCase(rule: .gpt2, text: "日本語テキスト です", pieces: ["日本語テキスト", " です"]),
        SplitCase(rule: .gpt2, text: "⚠️ ok!!", pieces: ["⚠️", " ok", "!!"]),
        SplitCase(rule: .gpt2, text: "a \u{3000}b", pieces: ["a", " ", "\u{3000}", "b"]),
        SplitCase(rule: .gpt2, text: "٣٤ x", pieces: ["٣٤", " x"]),
        SplitCase(rule: .gpt2, text: "", pieces: []),
        // smollm: every \p{N} alone, then gpt2 on the rest
        SplitCase(rule: .smollm, text: "abc123def 45", pieces: ["abc", "1", "2", "3", "def", " ", "4", "5"]),
        SplitCase(rule: .smollm, text: "m³/h", pieces: ["m", "³", "/", "h"]),
        SplitCase(rule: .smollm, text: "v2.0 ok", pieces: ["v", "2", ".", "0", " ok"]),
        SplitCase(rule: .smollm, text: "a  1", pieces: ["a", "  ", "1"]),
        // llama3: (?i:'s|...)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
        SplitCase(rule: .llama3, text: "Hello world", pieces: ["Hello", " world"]),
        SplitCase(rule: .llama3, text: "I'LL go", pieces: ["I", "'LL", " go"]),
        SplitCase(rule: .llama3, text: "1234567", pieces: ["123", "456", "7"]),
        SplitCase(rule: .llama3, text: "a\n\nb", pieces: ["a", "\n\n", "b"]),
        SplitCase(rule: .llama3, text: "x  \n y", pieces: ["x", "  \n", " y"]),
        SplitCase(rule: .llama3, text: "(hello)", pieces: ["(hello", ")"]),
        SplitCase(rule: .llama3, text: "...\n\nok", pieces: ["...\n\n", "ok"]),
        SplitCase(rule: .llama3, text: "$100 x", pieces: ["$", "100", " x"]),
        SplitCase(rule: .llama3, text: "end ", pieces: ["end", " "]),
    ]

    @Test(arguments: cases)
    func splitsLikeTheRegularExpression(_ c: SplitCase) {
        #expect(c.rule.split(c.text) == c.pieces)
    }

    @Test func ggmlNamesMapToRules() {
        #expect(PreTokenizer(ggmlName: "smollm") == .smollm)
        #expect(PreTokenizer(ggmlName: "starcoder") == .smollm)
        #expect(PreTokenizer(ggmlName: "llama-bpe") == .llama3)
        #expect(PreTokenizer(ggmlName: "llama3") == .llama3)
        #expect(PreTokenizer(ggmlName: "gpt2") == .gpt2)
        #expect(PreTokenizer(ggmlName: "gpt-2") == .gpt2)
        #expect(PreTokenizer(ggmlName: "qwen2") == nil)
    }

    @Test(arguments: PreTokenizer.allCases)
    func piecesAlwaysCoverTheText(_ rule: PreTokenizer) {
        var random = SeededRandom(seed: 42)
        for _ in 0..<500 {
            let text = RandomText.make(using: &random)
            let pieces = rule.split(text)
            #expect(pieces.joined() == text)
            #expect(!pieces.contains(""))
        }
    }
}

/// Random text mixing scripts, digits, whitespace, punctuation, emoji, combining marks and controls.
enum RandomText {
    static let pools: [[UInt32]] = [
        Array(0x61...0x7A), Array(0x41...0x5A), Array(0x30...0x39), [0x20, 0x20, 0x20, 0x0A, 0x09, 0x0D, 0xA0, 0x3000, 0x2028],
        Array(0x21...0x2F), [0x27, 0x27, 0x73, 0x74, 0x6C, 0x65, 0x76],  // contractions
        Array(0xC0...0x17F), Array(0x391...0x3C9), Array(0x410...0x44F), Array(0x4E00...0x4E40), Array(0x3040...0x3090),
        Array(0x660...0x669), [0xB2, 0xB3, 0xB9, 0xBC, 0x2155, 0x2160],  // other digits and numbers
        Array(0x300...0x36F),  // combining marks
        Array(0x1F600...0x1F640), [0x2600, 0x26A0, 0xFE0F, 0x200D, 0x2705, 0x1F525],
        [0x00, 0x01, 0x1B, 0x7F, 0x85, 0xAD, 0xFEFF, 0xE000, 0xFFFD, 0x10FFFD, 0x0378],  // controls, private use, unassigned
        [0x3C, 0x7C, 0x3E, 0x5F],  // pieces of special-token syntax
    ]

    static func make(using random: inout SeededRandom, maxLength: Int = 40) -> String {
        var scalars = String.UnicodeScalarView()
        for _ in 0..<Int.random(in: 0...maxLength, using: &random) {
            let pool = pools[Int.random(in: 0..<pools.count, using: &random)]
            if let scalar = Unicode.Scalar(pool[Int.random(in: 0..<pool.count, using: &random)]) {
                scalars.append(scalar)
            }
        }
        return String(scalars)
    }
}
