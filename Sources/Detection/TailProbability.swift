import Foundation

/// Gaussian constants for turning robust running averages into standard deviations.
enum Gaussian {
    /// √(π/2): standard deviations per unit of mean absolute deviation (E|x − μ| = σ·√(2/π)).
    static let sigmaPerMeanAbsoluteDeviation = 1.2533141373155
    /// √π/2: standard deviations per unit of mean absolute difference of successive independent readings
    /// (E|x₁ − x₂| = 2σ/√π).
    static let sigmaPerMeanAbsoluteDifference = 0.886226925452758
}

/// Tail probabilities of the standard normal, on the log10 scale the fusion works in.
enum TailProbability {
    static let ln10 = 2.302585092994046
    /// ln(2 / sqrt(2 pi))
    static let lnTwoOverRootTwoPi = -0.22579135264472744

    /// log10 of the two-sided tail `P(|Z| >= |z|)` of a standard normal: 0 at z = 0, about -5 at 4.42.
    @inline(__always)
    static func log10TwoSided(_ z: Double) -> Double {
        let a = abs(z)
        if !(a < 8) {
            // Mills-ratio expansion; accurate to 1e-4 in log10 beyond 8 and well defined for huge values.
            guard a.isFinite else { return -1000 }
            let inv2 = 1 / (a * a)
            let ln = lnTwoOverRootTwoPi - 0.5 * a * a - Foundation.log(a) + Foundation.log1p(-inv2 + 3 * inv2 * inv2)
            return max(ln / ln10, -1000)
        }
        return Foundation.log10(Foundation.erfc(a * 0.7071067811865476))
    }

    static func log10Of(_ x: Double) -> Double { Foundation.log10(x) }

    /// The score for a (corrected) log10 tail probability: `-log10(p) / 10`, clamped to [0, 1].
    @inline(__always)
    static func score(log10P: Double) -> Double {
        let s = -log10P * 0.1
        return s > 0 ? (s > 1 ? 1 : s) : 0  // NaN scores 0
    }

    /// The |z| whose two-sided tail has this log10 probability (for describing a score as a z).
    static func z(log10P: Double) -> Double {
        var lo = 0.0, hi = 40.0
        for _ in 0..<60 {
            let mid = (lo + hi) / 2
            if log10TwoSided(mid) > log10P { lo = mid } else { hi = mid }
        }
        return (lo + hi) / 2
    }
}
