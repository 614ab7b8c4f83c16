import Detection
import Foundation
import Logging
import MicroLM
import Narration
import Testing

/// With the real model (skipped when the file is absent): events from the evaluation set are narrated
/// by the model, pass the verifier, and come out the same every time.
enum ModelFile {
    static let path: String? = {
        let candidates: [String?] = [ProcessInfo.processInfo.environment["VIGIL_MODEL"],
                                     Fixtures.repoRoot.appendingPathComponent("models/" + ModelLocator.defaultFileName).path]
        return candidates.compactMap { $0 }.first { FileManager.default.fileExists(atPath: $0) }
    }()
}

@Suite(.serialized, .enabled(if: ModelFile.path != nil, "no model file (models/ or $VIGIL_MODEL)"))
struct ModelNarrationTests {
    static var modelPath: String? { ModelFile.path }

    /// The first event of each of a few kinds in the evaluation set.
    static func sample() throws -> [AnomalyEvent] {
        let events = try EventFile.read(file: Fixtures.repoRoot.appendingPathComponent("sensors/narration/events.jsonl").path)
        return [AnomalyKind.stuck, .silence, .volatilityShift, .oscillation].compactMap { kind in
            events.first { $0.kind == kind }
        }
    }

    @Test func sampleEventsAreNarratedByTheModelVerifiedAndReproducible() async throws {
        let path = try #require(Self.modelPath)
        let logger = Logger(label: "test")
        let model = try MicroLMNarrationModel.load(path: path, threads: 2, logger: logger)
        let narrator = Narrator(catalog: Fixtures.catalog, model: model, logger: logger)
        let events = try Self.sample()
        #expect(events.count == 4)
        for event in events {
            let first = await narrator.narrate(event, deadline: nil)
            let second = await narrator.narrate(event, deadline: nil)
            #expect(first.source == .model, "\(event.id): \(first.reason ?? "")")
            #expect(first.model == model.name)
            #expect(first.text == second.text, "greedy narration must be reproducible")
            let facts = Facts(event: event, catalog: Fixtures.catalog)
            let verdict = Verifier(facts: facts, catalog: Fixtures.catalog).verify(first.text)
            #expect(verdict.accepted, "\(first.text): \(verdict.problems)")
            #expect(verdict.namesSensor, "\(first.text)")
        }
    }

    /// The first event of every kind: steered generation (stop at a sentence end, backtracking out of dead
    /// ends) gives the model's own text for nearly all, each ending in a complete sentence that states the
    /// event's direction, and the same text every time.
    @Test func everyKindIsMostlyNarratedByTheModelInCompleteSentences() async throws {
        let path = try #require(Self.modelPath)
        let logger = Logger(label: "test")
        let model = try MicroLMNarrationModel.load(path: path, threads: 2, logger: logger)
        let narrator = Narrator(catalog: Fixtures.catalog, model: model, logger: logger)
        await narrator.prepare()
        let all = try EventFile.read(file: Fixtures.repoRoot.appendingPathComponent("sensors/narration/events.jsonl").path)
        let events = AnomalyKind.allCases.compactMap { kind in all.first { $0.kind == kind } }
        #expect(events.count == AnomalyKind.allCases.count)
        var byModel = 0
        for event in events {
            let x = await narrator.explain(event, deadline: nil)
            let again = await narrator.narrate(event, deadline: nil)
            #expect(x.narrative.text == again.text, "greedy narration must be reproducible")
            let verdict = Verifier(facts: x.facts, catalog: Fixtures.catalog).verify(x.narrative.text)
            #expect(verdict.accepted, "\(x.narrative.text): \(verdict.problems)")
            guard x.narrative.source == .model else { continue }
            byModel += 1
            #expect(x.narrative.text.hasSuffix("."))
            #expect(EvaluationReport.statesSensorAndDirection(x.narrative.text, facts: x.facts)
                        || x.facts.direction == .none, "\(x.narrative.text)")
        }
        #expect(byModel >= events.count - 2, "\(byModel) of \(events.count) by the model")
    }

    @Test func aMissedDeadlineFallsBackToTheTemplate() async throws {
        let path = try #require(Self.modelPath)
        let logger = Logger(label: "test")
        let model = try MicroLMNarrationModel.load(path: path, threads: 2, logger: logger)
        let narrator = Narrator(catalog: Fixtures.catalog, model: model, logger: logger)
        let event = try #require(try Self.sample().first)
        // A deadline already past: the model must not be waited for.
        let n = await narrator.narrate(event, deadline: .now)
        #expect(n.source == .template)
        #expect(n.reason?.contains("deadline") == true)
        #expect(n.text == TemplateNarrator.narrate(event, catalog: Fixtures.catalog))
    }
}
