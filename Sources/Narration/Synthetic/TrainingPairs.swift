import Detection
import Foundation
import Telemetry

/// One training example: the exact system and user turns Vigil's `tuned` prompt sends the model for an
/// event, and the text it should write.
public struct TrainingPair: Sendable, Codable, Equatable {
    public var system: String
    public var user: String
    public var reference: String
    public var kind: String
    public var stage: String
}

/// Builds the training pairs of `sensors/narration/train.jsonl` from synthetic events over made-up plant
/// catalogs: deterministic (seeded), every kind and stage, each reference checked by the verifier.
public enum TrainingPairs {
    public struct Result: Sendable {
        public var pairs: [TrainingPair]
        /// Events for which no reference passed the verifier (left out, counted).
        public var rejected: [String]
    }

    public static func build(catalog: Catalog, seed: UInt64, variants: Int, incidents: Int = 200) -> Result {
        var generator = SyntheticEvents(catalog: catalog, seed: seed, variants: variants)
        var pairs: [TrainingPair] = []
        var rejected: [String] = []
        for (i, event) in generator.all().enumerated() {
            let facts = Facts(event: event, catalog: catalog)
            let verifier = Verifier(facts: facts, catalog: catalog)
            guard let reference = EngineerNarrator.narrate(facts, variant: i, verifier: verifier) else {
                rejected.append(event.id)
                continue
            }
            pairs.append(TrainingPair(system: PromptBuilder.tunedSystem, user: PromptBuilder.tunedUser(facts),
                                      reference: reference, kind: event.kind.rawValue, stage: event.stage.rawValue))
        }
        for (i, group) in generator.incidents(count: incidents).enumerated() {
            guard let facts = Incident.facts(group, catalog: catalog) else { continue }
            let verifier = Verifier(facts: facts, catalog: catalog)
            guard let reference = EngineerNarrator.narrate(facts, variant: i, verifier: verifier) else {
                rejected.append(facts.eventID)
                continue
            }
            pairs.append(TrainingPair(system: PromptBuilder.tunedSystem, user: PromptBuilder.tunedUser(facts),
                                      reference: reference, kind: "incident", stage: "opened"))
        }
        return Result(pairs: pairs, rejected: rejected)
    }

    /// One JSON object per line, keys sorted, slashes unescaped.
    public static func jsonLines(_ pairs: [TrainingPair]) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try pairs.map { String(decoding: try encoder.encode($0), as: UTF8.self) }.joined(separator: "\n") + "\n"
    }
}
