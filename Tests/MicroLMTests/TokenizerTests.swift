import Foundation
import MicroLM
import Testing

@Suite("Tokenizer on the default model")
struct TokenizerTests {
    static let model: Comment = TestResources.modelMissing

    @Test(.enabled(if: TokenizerFixture.tokenizer != nil, model))
    func vocabularyAndSpecialTokens() throws {
        let tokenizer = try #require(TokenizerFixture.tokenizer)
        #expect(tokenizer.vocabularySize == 49152)
        #expect(tokenizer.bosID == 1)
        #expect(tokenizer.eosID == 2)
        #expect(tokenizer.addBOS == false)
        #expect(tokenizer.preTokenizer == .smollm)
        #expect(tokenizer.id(ofSpecial: "<|im_start|>") == 1)
        #expect(tokenizer.id(ofSpecial: "<|im_end|>") == 2)
        #expect(tokenizer.id(ofSpecial: "<|endoftext|>") == 0)
        #expect(tokenizer.id(ofSpecial: "Hello") == nil)  // a normal token is not special
        #expect(tokenizer.id(ofToken: "Hello") == 19556)
        #expect(tokenizer.isEndOfGeneration(2))
        #expect(!tokenizer.isEndOfGeneration(19556))
        #expect(tokenizer.tokenText(905) == "Ġworld")
        #expect(tokenizer.tokenBytes(905) == Array(" world".utf8))
        #expect(tokenizer.tokenText(-1) == nil)
        #expect(tokenizer.tokenText(49152) == nil)
        #expect(tokenizer.tokenType(1) == .control)
        #expect(tokenizer.tokenType(905) == .normal)
    }

    @Test(.enabled(if: TokenizerFixture.tokenizer != nil, model))
    func specialTokensOnlyWhenAsked() throws {
        let tokenizer = try #require(TokenizerFixture.tokenizer)
        let text = "<|im_start|>user\nHi<|im_end|>"
        let parsed = tokenizer.encode(text, parseSpecial: true)
        #expect(parsed.first == 1)
        #expect(parsed.last == 2)
        #expect(parsed.dropFirst().dropLast() == tokenizer.encode("user\nHi", parseSpecial: false)[...])
        let literal = tokenizer.encode(text, parseSpecial: false)
        #expect(!literal.contains(1) && !literal.contains(2))
        #expect(tokenizer.decode(literal) == text)
        // Control tokens are left out of decoded text unless asked for.
        #expect(tokenizer.decode(parsed) == "user\nHi")
        #expect(tokenizer.decode(parsed, renderSpecial: true) == text)
        // Adjacent and repeated special tokens; one inside a word.
        #expect(tokenizer.encode("<|im_end|><|im_end|>", parseSpecial: true) == [2, 2])
        let inside = tokenizer.encode("ab<|im_start|>cd", parseSpecial: true)
        #expect(inside.contains(1))
        #expect(tokenizer.decode(inside, renderSpecial: true) == "ab<|im_start|>cd")
        // Half a special token is plain text.
        #expect(!tokenizer.encode("<|im_start", parseSpecial: true).contains(1))
        #expect(tokenizer.encode("", parseSpecial: true).isEmpty)
    }

    @Test(.enabled(if: TokenizerFixture.tokenizer != nil, model))
    func randomTextRoundTrips() throws {
        let tokenizer = try #require(TokenizerFixture.tokenizer)
        var random = SeededRandom(seed: 2024)
        for _ in 0..<2000 {
            let text = RandomText.make(using: &random)
            let ids = tokenizer.encode(text, parseSpecial: false)
            #expect(ids.allSatisfy { $0 >= 0 && Int($0) < tokenizer.vocabularySize })
            #expect(tokenizer.decode(ids) == text, "\(String(reflecting: text))")
        }
    }

    @Test(.enabled(if: TokenizerFixture.tokenizer != nil, model))
    func otherRulesRoundTripWithTheSameVocabulary() throws {
        let file = try #require(TestResources.model)
        let tokens = try #require(file.stringArray("tokenizer.ggml.tokens"))
        let merges = try #require(file.stringArray("tokenizer.ggml.merges"))
        for rule in [PreTokenizer.gpt2, .llama3] {
            let tokenizer = try Tokenizer(tokens: tokens, tokenTypes: file.intArray("tokenizer.ggml.token_type"),
                                          merges: merges, preTokenizer: rule, bosID: 1, eosID: 2, unknownID: 0, paddingID: nil)
            var random = SeededRandom(seed: 99)
            for _ in 0..<300 {
                let text = RandomText.make(using: &random)
                #expect(tokenizer.decode(tokenizer.encode(text, parseSpecial: false)) == text)
            }
        }
    }

    @Test(.enabled(if: TokenizerFixture.tokenizer != nil, model))
    func longRunsStayCorrect() throws {
        let tokenizer = try #require(TokenizerFixture.tokenizer)
        for text in [String(repeating: "a", count: 20_000), String(repeating: " ", count: 20_000),
                     String(repeating: "ab", count: 10_000), String(repeating: "!?", count: 10_000),
                     String(repeating: "🔥", count: 5_000)] {
            let ids = tokenizer.encode(text, parseSpecial: true)
            #expect(tokenizer.decode(ids) == text)
            #expect(ids.count < text.utf8.count)
        }
    }

    @Test(.enabled(if: TokenizerFixture.tokenizer != nil, model))
    func streamingDecoderNeverSplitsACharacter() throws {
        let tokenizer = try #require(TokenizerFixture.tokenizer)
        let text = "⚠️ Alarm 🔥 ok ✅ 泵的出口压力 m³/h"
        let ids = tokenizer.encode(text, parseSpecial: false)
        var decoder = StreamingDecoder(tokenizer: tokenizer)
        var pieces: [String] = []
        var heldBack = false
        for id in ids {
            let piece = decoder.append(id)
            #expect(!piece.unicodeScalars.contains("\u{FFFD}"))
            heldBack = heldBack || decoder.hasPendingBytes
            pieces.append(piece)
        }
        pieces.append(decoder.finish())
        #expect(pieces.joined() == text)
        #expect(heldBack, "some character of this text spans tokens")
        #expect(!decoder.hasPendingBytes)
    }

    @Test(.enabled(if: TokenizerFixture.tokenizer != nil, model))
    func streamingDecoderLetsMalformedBytesThrough() throws {
        let tokenizer = try #require(TokenizerFixture.tokenizer)
        // "ð" spells the byte 0xF0 (a 4-byte lead); "a" is ASCII; "¨" spells 0xA8 (a lone continuation byte).
        let lead = try #require(tokenizer.id(ofToken: "ð"))
        let a = try #require(tokenizer.id(ofToken: "a"))
        let continuation = try #require(tokenizer.id(ofToken: "¨"))
        var decoder = StreamingDecoder(tokenizer: tokenizer)
        #expect(decoder.append(lead) == "")
        #expect(decoder.append(a) == "\u{FFFD}a")
        #expect(decoder.append(continuation) == "\u{FFFD}")
        #expect(decoder.append(lead) == "")
        #expect(decoder.finish() == "\u{FFFD}")
        #expect(decoder.append(-5) == "")  // ids outside the vocabulary are ignored
        #expect(tokenizer.decode([a, 99_999, -1, a]) == "aa")
    }
}

@Suite("Tokenizer construction errors")
struct TokenizerConstructionTests {
    private func tokenizerError(_ metadata: [(String, GGUFValue)]) throws -> TokenizerError? {
        let dir = try TempDir()
        var writer = GGUFTestWriter()
        writer.metadata = metadata
        let path = dir.file("tok.gguf")
        try writer.build().write(to: path)
        let file = try GGUFFile.open(path: path)
        do {
            _ = try Tokenizer(gguf: file)
            return nil
        } catch let error as TokenizerError {
            return error
        }
    }

    static let base: [(String, GGUFValue)] = [
        ("tokenizer.ggml.model", .string("gpt2")),
        ("tokenizer.ggml.pre", .string("gpt2")),
        ("tokenizer.ggml.tokens", .array(["a", "b", "ab", "<|end|>"].map(GGUFValue.string))),
        ("tokenizer.ggml.token_type", .array([1, 1, 1, 3].map { GGUFValue.int32($0) })),
        ("tokenizer.ggml.merges", .array([.string("a b")])),
        ("tokenizer.ggml.eos_token_id", .uint32(3)),
    ]

    @Test func tinyVocabularyWorks() throws {
        #expect(try tokenizerError(Self.base) == nil)
        let dir = try TempDir()
        var writer = GGUFTestWriter()
        writer.metadata = Self.base
        try writer.build().write(to: dir.file("t.gguf"))
        let tokenizer = try Tokenizer(gguf: GGUFFile.open(path: dir.file("t.gguf")))
        #expect(tokenizer.encode("abab<|end|>", parseSpecial: true) == [2, 2, 3])
        #expect(tokenizer.encode("ba", parseSpecial: false) == [1, 0])
        // Bytes the vocabulary cannot spell are dropped (it has no unknown token).
        #expect(tokenizer.encode("a c", parseSpecial: false) == [0])
        #expect(tokenizer.isEndOfGeneration(3))
    }

    @Test func refusals() throws {
        var metadata = Self.base
        metadata[0] = ("tokenizer.ggml.model", .string("llama"))
        #expect(try tokenizerError(metadata) == .unsupportedModel("llama"))

        metadata = Self.base
        metadata[1] = ("tokenizer.ggml.pre", .string("qwen2"))
        #expect(try tokenizerError(metadata) == .unsupportedPreTokenizer("qwen2"))

        metadata = Self.base
        metadata.remove(at: 2)
        #expect(try tokenizerError(metadata) == .missingKey("tokenizer.ggml.tokens"))

        metadata = Self.base
        metadata[5] = ("tokenizer.ggml.eos_token_id", .uint32(4))
        guard case .invalidVocabulary(let reason)? = try tokenizerError(metadata) else {
            Issue.record("expected invalidVocabulary"); return
        }
        #expect(reason.contains("EOS"))

        metadata = Self.base
        metadata[3] = ("tokenizer.ggml.token_type", .array([1, 1].map { GGUFValue.int32($0) }))
        guard case .invalidVocabulary? = try tokenizerError(metadata) else {
            Issue.record("expected invalidVocabulary"); return
        }

        metadata = Self.base
        metadata[4] = ("tokenizer.ggml.merges", .array([.string("ab")]))
        guard case .invalidVocabulary? = try tokenizerError(metadata) else {
            Issue.record("expected invalidVocabulary"); return
        }
    }
}
