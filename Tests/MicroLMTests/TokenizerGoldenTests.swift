import Foundation
import MicroLM
import Testing

/// One case of ../shared/golden/smollm2/tokenize.json: llama.cpp's ids for a text.
struct TokenizeCase: Decodable, Sendable, CustomTestStringConvertible {
    let text: String
    let special: Bool
    let ids: [Int32]

    var testDescription: String { "\(special ? "special " : "")\(String(reflecting: text).prefix(60))" }

    static let all: [TokenizeCase] = {
        struct File: Decodable { let cases: [TokenizeCase] }
        guard let url = TestResources.golden("tokenize.json"),
              let data = try? Data(contentsOf: url),
              let file = try? JSONDecoder().decode(File.self, from: data) else { return [] }
        return file.cases
    }()
}

enum TokenizerFixture {
    static let tokenizer: Tokenizer? = TestResources.model.flatMap { try? Tokenizer(gguf: $0) }
    static var available: Bool { tokenizer != nil && !TokenizeCase.all.isEmpty }
    static let unavailable: Comment = "needs the model (VIGIL_MODEL or deploy/provision-model.sh) and ../shared/golden/smollm2/tokenize.json"
}

@Suite("Tokenizer against llama.cpp's golden ids")
struct TokenizerGoldenTests {
    @Test(.enabled(if: TokenizerFixture.available, TokenizerFixture.unavailable), arguments: TokenizeCase.all)
    func encodesLikeLlamaCpp(_ golden: TokenizeCase) throws {
        let tokenizer = try #require(TokenizerFixture.tokenizer)
        let ids = tokenizer.encode(golden.text, parseSpecial: golden.special)
        #expect(ids == golden.ids, "pieces: \(ids.map { tokenizer.tokenText($0) ?? "?" })")
    }

    @Test(.enabled(if: TokenizerFixture.available, TokenizerFixture.unavailable), arguments: TokenizeCase.all)
    func decodesBackToTheText(_ golden: TokenizeCase) throws {
        let tokenizer = try #require(TokenizerFixture.tokenizer)
        #expect(tokenizer.decode(golden.ids, renderSpecial: true) == golden.text)
        // Streaming, one token at a time, gives the same text and never half a character.
        var stream = StreamingDecoder(tokenizer: tokenizer, renderSpecial: true)
        var text = ""
        for id in golden.ids { text += stream.append(id) }
        text += stream.finish()
        #expect(text == golden.text)
    }
}
