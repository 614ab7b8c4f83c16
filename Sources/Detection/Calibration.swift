/// Online calibration of one detector's raw z into a tail probability that means the same on every sensor,
/// whatever its noise looks like (autocorrelated, quantized, heavy-tailed).
///
/// Three normal-time summaries of |z| are learned:
/// - the second moment `E[z^2]` (clipped at 3 calibrated sigmas per sample);
/// - the 99th and 99.9th percentiles, each tracked by a multiplicative stochastic-approximation step (an
///   exceedance raises it by a fraction, any other sample lowers it by 1/99 (1/999) of that).
/// The tail probability of a new |z| is the larger (more cautious) of
/// - the Gaussian tail of `z / scale`, `scale = max(sqrt(E[z^2]), q99 / 2.576)`, and
/// - an exponential tail fitted through the two percentiles: `0.01 * 10^(-(|z| - q99) / (q999 - q99))`,
/// so near-Gaussian statistics keep nearly Gaussian sensitivity and heavy-tailed ones are not over-alarmed.
/// A single huge value moves each summary by a bounded fraction, so one outlier cannot blind the detector.
struct Calibration: Sendable, Equatable {
    static let gaussianQ99 = 2.5758293035489
    static let gaussianQ999 = 3.2905267314919

    var moment = 1.0
    var q99 = gaussianQ99
    var q999 = gaussianQ999

    /// The divisor that turns a raw z into a Gaussian-calibrated one (never below 0.7).
    @inline(__always) var scale: Double { max(moment.squareRoot(), q99 / Self.gaussianQ99, 0.7) }

    /// log10 of the exponential-tail probability of |z| (0 at and below the 99th percentile's extrapolation).
    @inline(__always)
    func log10ExponentialTail(_ z: Double) -> Double {
        let decade = max(q999 - q99, 0.15 * q99)
        let v = -2 - (abs(z) - q99) / decade
        return v > 0 ? 0 : v
    }

    /// `k`: second-moment learning rate; `eta`: relative step of the percentiles.
    @inline(__always)
    mutating func update(_ z: Double, k: Double, eta: Double) {
        let a = abs(z)
        moment = max(0.5, moment + k * (min(a * a, 9 * moment) - moment))
        if a > q99 { q99 *= 1 + eta * 0.99 } else { q99 *= 1 - eta * 0.01 }
        // The rarer percentile takes three times the step, so both learn at a similar pace.
        if a > q999 { q999 *= 1 + min(3 * eta, 0.5) * 0.999 } else { q999 *= 1 - min(3 * eta, 0.5) * 0.001 }
        if q99 < 1 { q99 = 1 }
        if q999 < q99 * 1.05 { q999 = q99 * 1.05 }
    }
}
