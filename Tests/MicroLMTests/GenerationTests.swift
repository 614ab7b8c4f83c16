import Foundation
import MicroLM
import Testing

@Suite("Generation", .serialized)
struct GenerationTests {
    static let question: Prompt = .chat(system: nil, user: "List three causes of high vibration in rotating machinery.")

    @Test("greedy generation is deterministic and matches a fresh session")
    func greedyDeterministic() throws {
        guard let a = try Engine.session(), let b = try Engine.session() else { return }
        let options = GenerationOptions(maxTokens: 24)
        let first = try a.generate(Self.question, options: options)
        let again = try a.generate(Self.question, options: options)  // whole prompt reused
        let fresh = try b.generate(Self.question, options: options)
        #expect(first.tokens.count == 24)
        #expect(first.tokens == again.tokens)
        #expect(first.tokens == fresh.tokens)
        #expect(first.text == fresh.text)
        #expect(again.reusedPromptTokenCount == again.promptTokenCount - 1)
    }

    @Test("a shared prefix is reused and gives the result of a fresh run")
    func prefixReuse() throws {
        guard let shared = try Engine.session(), let fresh = try Engine.session() else { return }
        let system = "You write short alerts for plant operators. Use only the facts given. One or two sentences."
        let first: Prompt = .chat(system: system, user: "Facts: pump P-101 discharge pressure fell from 6.2 bar to 3.1 bar.")
        let second: Prompt = .chat(system: system, user: "Facts: tank T-3 level rose from 40 % to 97 % in 10 minutes.")
        let options = GenerationOptions(maxTokens: 16)
        _ = try shared.generate(first, options: options)
        let reused = try shared.generate(second, options: options)
        let baseline = try fresh.generate(second, options: options)
        #expect(reused.reusedPromptTokenCount >= 20)
        #expect(reused.reusedPromptTokenCount < reused.promptTokenCount)
        #expect(reused.tokens == baseline.tokens)

        // Explicit: keep the prefix, drop the rest.
        shared.reset(keepingPrefix: 10)
        #expect(shared.tokens.count == 10)
        let third = try shared.generate(second, options: options)
        #expect(third.reusedPromptTokenCount == 10)
        #expect(third.tokens == baseline.tokens)
    }

    @Test("a logit processor can forbid tokens")
    func logitMask() throws {
        guard let session = try Engine.session() else { return }
        let options = GenerationOptions(maxTokens: 20)
        let plain = try session.generate(Self.question, options: options)
        let banned = try #require(plain.tokens.first)
        let masked = try session.generate(Self.question, options: options) { logits, context in
            logits[Int(banned)] = -.infinity
            _ = context.generatedTokens
        }
        #expect(!masked.tokens.contains(banned))
        #expect(masked.tokens != plain.tokens)

        // Forbidding everything ends the generation cleanly.
        let none = try session.generate(Self.question, options: options) { logits, _ in
            for i in 0..<logits.count { logits[i] = -.infinity }
        }
        #expect(none.finishReason == .noAllowedToken)
        #expect(none.tokens.isEmpty)
    }

    @Test("a text constraint steers greedy generation; with backtracking the text streams once, at the end")
    func textConstraint() throws {
        guard let session = try Engine.session() else { return }
        let plain = try session.generate(Self.question, options: GenerationOptions(maxTokens: 24))
        #expect(plain.text.lowercased().contains("e"))
        // No letter e anywhere: the most likely allowed candidate is taken at each step.
        let noE = TextConstraint(candidates: 64) { !$0.lowercased().contains("e") }
        let steered = try session.generate(Self.question, options: GenerationOptions(maxTokens: 24, constraint: noE))
        #expect(!steered.text.isEmpty)
        #expect(!steered.text.lowercased().contains("e"), "\(steered.text)")
        // Allowing everything gives the plain greedy text (control tokens and a leading newline aside).
        let free = TextConstraint { _ in true }
        let same = try session.generate(Self.question, options: GenerationOptions(maxTokens: 24, constraint: free))
        #expect(same.tokens == plain.tokens)

        // A constraint that refuses every continuation after the first word: a dead end, then backtracking
        // tries the other candidates of earlier steps until the budget is spent.
        let firstWord = TextConstraint(candidates: 8, maxBacktracks: 5) { !$0.trimmingCharacters(in: .whitespaces).contains(" ") }
        var streamed: [String] = []
        let stuck = try session.generate(Self.question, options: GenerationOptions(maxTokens: 24, constraint: firstWord),
                                         onToken: { _, text in
                                             streamed.append(text)
                                             return true
                                         })
        #expect(stuck.finishReason == .constraint)
        #expect(!stuck.text.trimmingCharacters(in: .whitespaces).contains(" "))
        #expect(streamed == [stuck.text])

        // The sentence rule: once the model's own choice is refused by far, the text is closed with a full stop.
        let twoWords = TextConstraint(candidates: 64, closeGap: 0) { $0.split(separator: " ").count <= 2 }
        let closed = try session.generate(Self.question, options: GenerationOptions(maxTokens: 24, constraint: twoWords))
        if closed.finishReason == .sentence { #expect(closed.text.hasSuffix(".")) }
        #expect(closed.text.split(separator: " ").count <= 2)
    }

    @Test("stop strings, max tokens and stop tokens end the generation")
    func stopping() throws {
        guard let session = try Engine.session() else { return }
        let plain = try session.generate(Self.question, options: GenerationOptions(maxTokens: 40))
        #expect(plain.finishReason == .maxTokens)
        #expect(plain.tokens.count == 40)
        // A stop string taken from the middle of the greedy text.
        let words = plain.text.split(separator: " ")
        try #require(words.count > 4)
        let stop = " " + words[3]
        let cut = try session.generate(Self.question, options: GenerationOptions(maxTokens: 40, stopStrings: [stop]))
        #expect(cut.finishReason == .stopString(stop))
        #expect(!cut.text.contains(stop))
        #expect(plain.text.hasPrefix(cut.text))
        #expect(cut.tokens.count < 40)
        // The first greedy token as a stop token: nothing is generated.
        let first = try #require(plain.tokens.first)
        let none = try session.generate(Self.question, options: GenerationOptions(maxTokens: 40, stopTokens: [first]))
        #expect(none.finishReason == .stopToken(first))
        #expect(none.tokens.isEmpty)
    }

    @Test("a deadline stops generation")
    func deadline() throws {
        guard let session = try Engine.session() else { return }
        let past = try session.generate(Self.question, options: GenerationOptions(maxTokens: 40, deadline: .now - .seconds(1)))
        #expect(past.finishReason == .deadline)
        #expect(past.tokens.isEmpty)
        // A deadline some tokens in: stops early, with what it had.
        let soon = try session.generate(Self.question, options: GenerationOptions(maxTokens: 10_000, deadline: .now + .milliseconds(300)))
        #expect(soon.finishReason == .deadline || soon.finishReason == .stopToken(2))
        #expect(soon.tokens.count < 10_000)
    }

    @Test("sampling with a seed is reproducible")
    func seededSampling() throws {
        guard let session = try Engine.session(), let model = Engine.model else { return }
        let sampling = SamplingOptions(temperature: 0.9, topK: 40, topP: 0.9, minP: 0.02, repetitionPenalty: 1.1, seed: 42)
        let options = GenerationOptions(maxTokens: 24, sampling: sampling)
        let a = try session.generate(Self.question, options: options)
        let b = try session.generate(Self.question, options: options)
        #expect(a.tokens == b.tokens)
        #expect(a.tokens.allSatisfy { $0 >= 0 && Int($0) < model.config.vocabularySize })
        var other = options
        other.sampling.seed = 7
        let c = try session.generate(Self.question, options: other)
        let greedy = try session.generate(Self.question, options: GenerationOptions(maxTokens: 24))
        #expect(c.tokens != a.tokens || a.tokens != greedy.tokens)
    }

    @Test("streaming yields the text of generate, and stops when the consumer leaves")
    func streaming() async throws {
        guard let session = try Engine.session() else { return }
        let options = GenerationOptions(maxTokens: 24)
        let expected = try session.generate(Self.question, options: options)
        var text = "", ids: [Int32] = []
        var finished: GenerationResult?
        for try await event in session.stream(Self.question, options: options) {
            switch event {
            case let .token(id, piece): text += piece; ids.append(id)
            case let .finished(result): finished = result
            }
        }
        #expect(text == expected.text)
        #expect(ids == expected.tokens)
        #expect(finished?.tokens == expected.tokens)

        // Leave after 3 tokens: the generation stops and frees the session.
        var count = 0
        for try await event in session.stream(Self.question, options: GenerationOptions(maxTokens: 500)) {
            if case .token = event { count += 1 }
            if count == 3 { break }
        }
        var freed = false
        for _ in 0..<200 {
            do {
                _ = try session.evaluate([1])
                freed = true
                break
            } catch MicroLMError.sessionBusy {
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        #expect(freed)
    }

    @Test("raw completion continues plain text")
    func rawCompletion() throws {
        guard let session = try Engine.session() else { return }
        let result = try session.generate(.text("The pump discharge pressure"), options: GenerationOptions(maxTokens: 8))
        #expect(result.tokens.count == 8)
        #expect(!result.text.isEmpty)
    }
}
