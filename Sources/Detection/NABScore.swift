import Foundation

/// A NAB application profile: the weights of true positives, false positives and false negatives.
public struct NABProfile: Sendable, Equatable {
    public var name: String
    public var tp: Double
    public var fp: Double
    public var fn: Double

    public static let standard = NABProfile(name: "standard", tp: 1, fp: 0.11, fn: 1)
    public static let lowFP = NABProfile(name: "low FP", tp: 1, fp: 0.22, fn: 1)
    public static let lowFN = NABProfile(name: "low FN", tp: 1, fp: 0.11, fn: 2)
    public static let all = [standard, lowFP, lowFN]
}

/// One labelled series for NAB scoring: a detection flag per row and the anomaly windows as row ranges.
public struct NABSeries: Sendable {
    public var detections: [Bool]
    /// Row ranges of the windows, sorted and not overlapping.
    public var windows: [ClosedRange<Int>]
    /// Leading rows that are not scored (NAB's probationary period).
    public var probation: Int

    public init(detections: [Bool], windows: [ClosedRange<Int>], probation: Int = 0) {
        self.detections = detections
        self.windows = windows
        self.probation = probation
    }
}

/// The Numenta Anomaly Benchmark score, as NAB's sweeper computes it.
///
/// - In a window, only the earliest detection counts: `tp * sigma(p) / sigma(-1)`, where `p = -(right - i + 1) / width`
///   and `sigma(p) = 2 / (1 + e^(5p)) - 1` (1 at the left edge, 0 at the right).
/// - Each detection outside every window costs `fp * sigma(p)` with `p` its distance past the previous window's
///   right edge in units of that window's width (`sigma(3+) = -1`; before the first window, -1).
/// - Each window with no detection costs `-fn`.
/// - Normalised: `100 * (raw - null) / (perfect - null)` with the null detector (no detections, `-fn` per window) and
///   the perfect one (`tp` per window), summed over all series before normalising.
public enum NABScore {
    static func sigma(_ p: Double) -> Double { p >= 3 ? -1 : 2 / (1 + Foundation.exp(5 * p)) - 1 }

    /// Raw score, null score and perfect score of one series.
    public static func parts(_ series: NABSeries, profile: NABProfile) -> (raw: Double, null: Double, perfect: Double) {
        let maxTP = sigma(-1)
        var raw = 0.0
        var windowBest = [Double?](repeating: nil, count: series.windows.count)
        var w = 0
        var previousRight: Int?
        var previousWidth = 0.0
        for i in series.detections.indices {
            while w < series.windows.count, series.windows[w].upperBound < i {
                previousRight = series.windows[w].upperBound
                previousWidth = Double(series.windows[w].count)
                w += 1
            }
            guard series.detections[i], i >= series.probation else { continue }
            if w < series.windows.count, series.windows[w].contains(i) {
                let window = series.windows[w]
                let position = -Double(window.upperBound - i + 1) / Double(window.count)
                let s = sigma(position) * profile.tp / maxTP
                windowBest[w] = max(windowBest[w] ?? -.infinity, s)
            } else {
                let position: Double
                if let right = previousRight {
                    position = Double(abs(right - i)) / max(previousWidth - 1, 1)
                } else {
                    position = 3
                }
                raw += sigma(position) * profile.fp
            }
        }
        for best in windowBest { raw += best ?? -profile.fn }
        let n = Double(series.windows.count)
        return (raw, -profile.fn * n, profile.tp * n)
    }

    /// The normalised score of a corpus under one profile.
    public static func score(_ corpus: [NABSeries], profile: NABProfile) -> Double {
        var raw = 0.0, null = 0.0, perfect = 0.0
        for series in corpus {
            let p = parts(series, profile: profile)
            raw += p.raw; null += p.null; perfect += p.perfect
        }
        guard perfect > null else { return 0 }
        return 100 * (raw - null) / (perfect - null)
    }

    /// The variant of SKAB's evaluation library (tsad, "improved" scale): a tanh ramp across the window from `tp` at
    /// its left edge to `-fp` at its right, and a flat `-fp` for every detection outside the windows.
    public static func tsadScore(_ corpus: [NABSeries], profile: NABProfile) -> Double {
        var raw = 0.0, null = 0.0, perfect = 0.0
        let aTP = profile.tp, aFP = -profile.fp
        for series in corpus {
            var found = [Bool](repeating: false, count: series.windows.count)
            var w = 0
            for i in series.detections.indices where series.detections[i] && i >= series.probation {
                while w < series.windows.count, series.windows[w].upperBound < i { w += 1 }
                if w < series.windows.count, series.windows[w].contains(i) {
                    guard !found[w] else { continue }
                    found[w] = true
                    let window = series.windows[w]
                    let span = max(window.upperBound - window.lowerBound, 1)
                    let event = min(Int(Double(i - window.lowerBound) / Double(span) * 1000), 999)
                    let x = -Double.pi / 2 + Double.pi * Double(event) / 999
                    raw += (aTP - aFP) / 2 * -Foundation.tanh(x) / Foundation.tanh(Double.pi / 2) + (aTP - aFP) / 2 + aFP
                } else {
                    raw += aFP
                }
            }
            for f in found where !f { raw += -profile.fn }
            null += -profile.fn * Double(series.windows.count)
            perfect += aTP * Double(series.windows.count)
        }
        guard perfect > null else { return 0 }
        return 100 * (raw - null) / (perfect - null)
    }
}
