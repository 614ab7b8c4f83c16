/// Online calibration of one detector's raw z, so that its calibrated value reads as a standard normal z at
/// normal times whatever the sensor's noise looks like (autocorrelated, quantized, heavy-tailed).
///
/// Two views of the normal-time spread are kept and the wider one wins:
/// - the second moment `E[z^2]` (clipped at 5 calibrated sigmas per sample), right for near-Gaussian statistics;
/// - the 99th percentile of `|z|`, tracked by a multiplicative stochastic-approximation step (each exceedance
///   raises it by a fraction, each other sample lowers it by 1/99 of that), divided by 2.576 (the Gaussian 99th
///   percentile); right for statistics that are mostly small with normal bursts (a quantized flow that hops).
/// A single huge value moves either view by a bounded fraction, so one outlier cannot blind the detector.
struct Calibration: Sendable, Equatable {
    static let gaussianQ99 = 2.5758293035489

    var moment = 1.0
    var q99 = gaussianQ99

    /// The divisor that turns a raw z into a calibrated one (never below 0.7: at most ~1.4x theory's sensitivity).
    @inline(__always) var scale: Double { max(moment.squareRoot(), q99 / Self.gaussianQ99, 0.7) }

    /// `k`: second-moment learning rate; `eta`: relative step of the quantile.
    @inline(__always)
    mutating func update(_ z: Double, k: Double, eta: Double) {
        let z2 = z * z
        moment = max(0.5, moment + k * (min(z2, 25 * moment) - moment))
        if abs(z) > q99 { q99 *= 1 + eta * 0.99 } else { q99 *= 1 - eta * 0.01 }
        if q99 < 1 { q99 = 1 }
    }
}
