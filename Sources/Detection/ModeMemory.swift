/// The few levels a sensor dwells at, learned online: a square wave's two levels, a machine's on and off, the
/// neighbouring values of a coarsely quantised transmitter. Fixed size (8 modes), O(1) per reading.
///
/// Each mode has a centre, a spread (mean absolute deviation of the readings it took) and a weight (readings,
/// forgotten with a memory of `memory` readings). A reading joins the nearest mode within four of its robust
/// standard deviations; otherwise it starts a mode in place of the lightest one. A mode is known once the sensor
/// stayed in it for `knownDwell` readings in a row (a level held, not a passing visit: a quantised transmitter
/// flickering to the next value is not a level, a valve that shut and stayed shut is). Modes learn from every
/// reading, abnormal or not: a level that persisted has been seen (and reported once), so the next visit to it
/// is not news.
struct ModeMemory: Sendable, Equatable {
    static let capacity = 8
    static let knownDwell = 30.0
    static let memory = 5000.0

    var center = SIMD8<Double>(repeating: 0)
    var spread = SIMD8<Double>(repeating: 0)
    var weight = SIMD8<Double>(repeating: 0)
    /// Longest stay in each mode (readings in a row), and the current stay.
    var dwell = SIMD8<Double>(repeating: 0)
    var current = -1
    var stay = 0.0

    /// The mode that holds `x` (nearest centre within its radius), or -1.
    @inline(__always)
    func mode(of x: Double, noise: Double) -> Int {
        var best = -1
        var bestDistance = Double.infinity
        for k in 0..<Self.capacity where weight[k] > 0 {
            let d = abs(x - center[k])
            let radius = 4 * max(Gaussian.sigmaPerMeanAbsoluteDeviation * spread[k], noise)
            if d <= radius, d < bestDistance { best = k; bestDistance = d }
        }
        return best
    }

    /// Whether `x` lies in a known mode, and the baseline or the reference level lies outside it (a move between
    /// known levels; small deviations within the baseline's own mode are not discounted).
    @inline(__always)
    func isFamiliarMove(x: Double, baseline: Double, reference: Double) -> Bool {
        let m = mode(of: x, noise: 0)
        guard m >= 0, dwell[m] >= Self.knownDwell else { return false }
        return mode(of: baseline, noise: 0) != m || mode(of: reference, noise: 0) != m
    }

    @inline(__always)
    mutating func learn(_ x: Double, noise: Double) {
        weight *= 1 - 1 / Self.memory
        let m = mode(of: x, noise: noise)
        if m >= 0 {
            stay = m == current ? stay + 1 : 1
            current = m
            if stay > dwell[m] { dwell[m] = stay }
            weight[m] += 1
            let rate = 1 / min(weight[m], 200)
            let e = x - center[m]
            center[m] += rate * e
            spread[m] += rate * (abs(e) - spread[m])
            // Two modes that came to overlap (each within the other's reach) are one level.
            let radius = 4 * max(Gaussian.sigmaPerMeanAbsoluteDeviation * spread[m], noise)
            for k in 0..<Self.capacity where k != m && weight[k] > 0
                && abs(center[k] - center[m]) <= min(radius, 4 * max(Gaussian.sigmaPerMeanAbsoluteDeviation * spread[k], noise)) {
                let total = weight[k] + weight[m]
                center[m] = (center[m] * weight[m] + center[k] * weight[k]) / total
                spread[m] = max(spread[m], spread[k])
                weight[m] = total
                dwell[m] = max(dwell[m], dwell[k])
                weight[k] = 0
                dwell[k] = 0
            }
            return
        }
        var lightest = 0
        var nearest = Double.infinity
        for k in 0..<Self.capacity {
            if weight[k] < weight[lightest] { lightest = k }
            if weight[k] > 0 { nearest = min(nearest, abs(x - center[k])) }
        }
        center[lightest] = x
        // A young mode starts wide (half the way to its nearest neighbour) and narrows as it learns: a level
        // reached from a noise-free one must not split into a new mode per reading.
        spread[lightest] = nearest.isFinite ? max(noise, 0.5 * nearest) : noise
        weight[lightest] = 1
        dwell[lightest] = 1
        current = lightest
        stay = 1
    }
}
