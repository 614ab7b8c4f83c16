import Foundation
import MicroLM
import Testing

/// Teacher-forced comparison with llama.cpp's logits for the same file (see the README of
/// ../shared/golden/smollm2): evaluate the prompt in one batch, then each generated token
/// one at a time, and compare the logits at every generated position.
@Suite("Forward pass against llama.cpp", .serialized)
struct GoldenForwardTests {
    static let caseIndices: [Int] = Array(0..<(GreedyGolden.loaded?.cases.count ?? 0))

    @Test("teacher-forced logits match llama.cpp", arguments: caseIndices)
    func teacherForced(index: Int) throws {
        guard let golden = GreedyGolden.loaded, let session = try Engine.session() else {
            withKnownIssue(TestResources.modelMissing) { Issue.record("model or golden file absent") }
            return
        }
        let c = golden.cases[index]
        var logits = try session.evaluate(c.prompt_ids)

        // First position: the top-40 ids largely shared.
        let ours = Set(logits.indices.sorted { logits[$0] > logits[$1] }.prefix(40))
        let theirs = Set(c.first_position_top40.map { Int($0[0]) })
        #expect(ours.intersection(theirs).count >= 36, "\(c.name): top-40 overlap")

        var diffs: [Double] = []
        for (i, step) in c.steps.enumerated() {
            for entry in step.top {
                diffs.append(abs(Double(logits[Int(entry[0])]) - entry[1]))
            }
            if step.margin >= 0.3 {
                #expect(argmax(logits) == Int(step.id), "\(c.name) step \(i): argmax \(argmax(logits)) vs \(step.id) (margin \(step.margin)); ours \(logits[argmax(logits)]) vs \(logits[Int(step.id)]), top \(step.top.prefix(3))")
            }
            if i + 1 < c.steps.count { logits = try session.evaluate([c.generated_ids[i]]) }
        }
        let maxDiff = diffs.max() ?? 0, medianDiff = median(diffs)
        print("golden \(c.name): \(c.steps.count) steps, top-8 max |Δ| \(maxDiff), median \(medianDiff)")
        #expect(maxDiff <= 1.25, "\(c.name): top-8 max |Δ| \(maxDiff)")
        #expect(medianDiff <= 0.2, "\(c.name): top-8 median |Δ| \(medianDiff)")
    }
}
