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
