import MicroLM
import Testing

@Suite("Forward pass properties", .serialized)
struct ForwardTests {
    static let prompt: Prompt = .chat(system: nil, user: "What does a centrifugal pump do? Answer in two sentences.")

    @Test("a prompt in batches gives the logits of token-by-token evaluation", arguments: [256, 7])
    func batchedEqualsSequential(batchSize: Int) throws {
        guard let model = Engine.model, let batched = try Engine.session(batchSize: batchSize),
              let single = try Engine.session(batchSize: 1) else { return }
        let ids = model.tokens(for: Self.prompt)
        let a = try batched.evaluate(ids)
        var b: [Float] = []
        for id in ids { b = try single.evaluate([id]) }
        let maxDiff = zip(a, b).map { abs($0 - $1) }.max() ?? .infinity
        #expect(maxDiff <= 1e-3, "max |Δ| \(maxDiff)")
        #expect(argmax(a) == argmax(b))
    }

    @Test("the chat template gives llama.cpp's prompt ids")
    func chatTemplateTokens() throws {
        guard let model = Engine.model, let golden = GreedyGolden.loaded else { return }
        for c in golden.cases {
            // <|im_start|>system\n{system}<|im_end|>\n<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n
            let parts = c.prompt.split(separator: "<|im_end|>\n<|im_start|>user\n", maxSplits: 1).map(String.init)
            try #require(parts.count == 2)
            let system = String(parts[0].dropFirst("<|im_start|>system\n".count))
            let user = String(parts[1].dropLast("<|im_end|>\n<|im_start|>assistant\n".count))
            #expect(model.tokens(for: .chat(system: system, user: user)) == c.prompt_ids, "\(c.name)")
        }
    }

    @Test("bad input is refused with an error")
    func badInput() throws {
        guard let model = Engine.model, let session = try Engine.session(contextLength: 16) else { return }
        #expect(throws: MicroLMError.invalidToken(model.config.vocabularySize)) {
            try session.evaluate([1, Int32(model.config.vocabularySize)])
        }
        #expect(throws: MicroLMError.invalidToken(-1)) { try session.evaluate([-1]) }
        #expect(throws: MicroLMError.emptyPrompt) { try session.evaluate([]) }
        #expect(throws: MicroLMError.contextFull(needed: 17, capacity: 16)) {
            try session.evaluate([Int32](repeating: 1, count: 17))
        }
        #expect(session.tokens.isEmpty)
    }
}
