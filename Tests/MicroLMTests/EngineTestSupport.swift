import Foundation
import MicroLM
import Testing

/// The real model, loaded once for all engine tests; nil (tests skip) when it is absent.
enum Engine {
    static let model: LanguageModel? = TestResources.modelPath.flatMap { try? LanguageModel.load(path: $0) }

    /// A fresh session on the shared model, two threads (the target machine's count).
    static func session(contextLength: Int = 1024, batchSize: Int = 256) throws -> InferenceSession? {
        guard let model else { return nil }
        return try InferenceSession(model: model, contextLength: contextLength, threads: 2, batchSize: batchSize)
    }
}

/// llama.cpp's greedy reference outputs (../shared/golden/smollm2/greedy.json).
struct GreedyGolden: Decodable {
    struct Step: Decodable {
        let id: Int32
        let margin: Double
        let top: [[Double]]
    }
    struct Case: Decodable {
        let name: String
        let prompt: String
        let prompt_ids: [Int32]
        let steps: [Step]
        let generated_ids: [Int32]
        let first_position_top40: [[Double]]
    }
    let cases: [Case]

    static let loaded: GreedyGolden? = TestResources.golden("greedy.json").flatMap {
        try? JSONDecoder().decode(GreedyGolden.self, from: Data(contentsOf: $0))
    }
}

func argmax(_ x: [Float]) -> Int {
    var best = 0
    for i in x.indices where x[i] > x[best] { best = i }
    return best
}

func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    guard !s.isEmpty else { return .nan }
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
}
