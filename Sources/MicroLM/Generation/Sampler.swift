/// Chooses tokens from logits according to `SamplingOptions`. Holds its random generator and
/// scratch space, so one sampler serves a whole generation without allocating per token.
struct Sampler {
    let options: SamplingOptions
    private var rng: SplitMix64
    private var candidates: [(id: Int32, value: Float)] = []

    init(options: SamplingOptions) {
        self.options = options
        rng = SplitMix64(seed: options.seed)
    }

    /// Picks the next token; nil when every logit is -infinity or NaN.
    mutating func sample(_ logits: UnsafeMutableBufferPointer<Float>, history: ArraySlice<Int32>) -> Int32? {
        if options.repetitionPenalty != 1, options.repetitionPenalty > 0 {
            var seen = Set<Int32>()
            for id in history.suffix(max(0, options.repetitionWindow)) where seen.insert(id).inserted {
                let i = Int(id)
                guard i >= 0, i < logits.count else { continue }
                logits[i] = logits[i] > 0 ? logits[i] / options.repetitionPenalty : logits[i] * options.repetitionPenalty
            }
        }
        if options.temperature <= 0 { return argmax(logits) }

        // Top-k candidates, most likely first.
        candidates.removeAll(keepingCapacity: true)
        for i in 0..<logits.count where logits[i] > -.infinity { candidates.append((Int32(i), logits[i])) }
        guard !candidates.isEmpty else { return nil }
        let k = options.topK > 0 ? min(options.topK, candidates.count) : candidates.count
        if k < candidates.count {
            // partial selection: a k-th largest threshold, then sort the survivors
            var values = candidates.map(\.value)
            values.sort(by: >)
            let threshold = values[k - 1]
            var kept = candidates.filter { $0.value > threshold }
            for c in candidates where c.value == threshold && kept.count < k { kept.append(c) }
            candidates = kept
        }
        candidates.sort { $0.value > $1.value }

        // Softmax at the temperature (values become probabilities).
        let maxLogit = candidates[0].value
        var sum: Float = 0
        for i in candidates.indices {
            let p = ((candidates[i].value - maxLogit) / options.temperature).exp()
            candidates[i].value = p
            sum += p
        }
        for i in candidates.indices { candidates[i].value /= sum }

        // Top-p: the shortest head whose mass reaches p.
        var count = candidates.count
        if options.topP < 1 {
            var mass: Float = 0
            for i in candidates.indices {
                mass += candidates[i].value
                if mass >= options.topP { count = i + 1; break }
            }
        }
        // Min-p: relative to the most likely token.
        if options.minP > 0 {
            let floor = options.minP * candidates[0].value
            var kept = 1
            while kept < count, candidates[kept].value >= floor { kept += 1 }
            count = kept
        }
        var total: Float = 0
        for i in 0..<count { total += candidates[i].value }
        var r = rng.nextUnit() * total
        for i in 0..<count {
            r -= candidates[i].value
            if r < 0 { return candidates[i].id }
        }
        return candidates[count - 1].id
    }

    private func argmax(_ logits: UnsafeMutableBufferPointer<Float>) -> Int32? {
        var best = -1
        var bestValue = -Float.infinity
        for i in 0..<logits.count where logits[i] > bestValue {
            best = i
            bestValue = logits[i]
        }
        return best >= 0 ? Int32(best) : nil
    }
}

/// SplitMix64: small, fast, good enough for sampling, reproducible from a seed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    mutating func nextUnit() -> Float { Float(next() >> 40) / Float(1 << 24) }
}

extension Float {
    fileprivate func exp() -> Float {
        #if canImport(Glibc)
        return Glibc.expf(self)
        #else
        return Darwin.expf(self)
        #endif
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
