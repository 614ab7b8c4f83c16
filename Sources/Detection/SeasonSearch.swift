/// Finds the dominant period of a sensor that has none configured, in bounded work per reading.
///
/// The readings are averaged in blocks of `block` readings into a window of at most `window` points (the
/// sensor's season buffer, which becomes the seasonal profile once a period is found). When the window is
/// full, adjacent points are averaged in pairs and the block doubles, so the window always spans between
/// 48 and 96 blocks: at 1 reading per block first, then 2, 4, ... up to `maximumBlock`.
///
/// Once per block size a sweep evaluates, one lag per reading, the Pearson correlation between the window and
/// itself shifted by 1, 2, ... points, up to half the window (at least two periods must be in view). A period is
/// a local maximum of that autocorrelation of at least `threshold`, after the correlation has fallen to zero
/// or below (a trough: the series decorrelates in between, which a trend or a random walk does not), and a
/// later peak replaces an earlier one only if it is clearly higher (so the fundamental wins over multiples).
/// Its lag is refined by a parabola through the neighbouring lags. Two successive sweeps (on windows of
/// different block sizes, so mostly different data) must agree within `agreement`: noise does not repeat.
///
/// Work per reading: one addition; when a block completes, one store; when the window is full, 48 pair means;
/// during a sweep (at most `maximumLag` readings out of each 48 x block), one correlation over at most 96
/// points (5 multiply-adds each). Worst case for one reading: about 600 floating-point operations (about 0.1 µs,
/// `vigil bench detect` prints it).
/// Amortised: below 10 per reading once the block exceeds 32. No allocation.
struct SeasonSearch: Sendable, Equatable {
    /// Points in the window (the season buffer's capacity while searching).
    static let window = 96
    /// Fewest points in view before a sweep starts.
    static let minimumPoints = 48
    static let maximumLag = 32
    /// Largest block (readings per point): the search gives up beyond it (96 x 65 536 readings in view).
    static let maximumBlock = 1 << 16
    static let threshold = 0.6
    static let agreement = 0.1

    var block = 1
    var blockSum = 0.0
    var blockCount = 0
    /// Points in the window.
    var count = 0
    /// Lag being evaluated (0: no sweep running) and the block size the last sweep ran at.
    var lag = 0
    var sweptBlock = 0
    /// The sweep so far: the two previous correlations, the lowest, and the best peak with its neighbours.
    var previous = 0.0
    var beforePrevious = 0.0
    var lowest = 1.0
    var bestLag = 0
    var best = 0.0
    var bestLeft = 0.0
    var bestRight = 0.0
    /// The previous sweep's period (readings; 0: none) and its lag in points (its resolution).
    var candidate = 0.0
    var candidateLag = 0.0
    /// Set when the search gave up.
    var exhausted = false
    /// Typical time between readings (ms): an average whose steps are clipped at twice it, so that a gap in the
    /// readings (which the window, counted in readings, does not see) cannot stretch the season.
    var step = 0.0

    /// Learns the time between readings; `dt` in ms (not positive: ignored).
    @inline(__always)
    mutating func observeInterval(_ dt: Double) {
        guard dt > 0 else { return }
        step = step == 0 ? dt : step + 0.05 * (min(dt, 2 * step) - step)
    }

    /// Feeds one (winsorized) reading; returns a period in readings once two sweeps agree on one.
    @inline(__always)
    mutating func observe(_ x: Double, buffer: inout ContiguousArray<Double>) -> Double? {
        if exhausted { return nil }
        blockSum += x
        blockCount &+= 1
        if blockCount >= block {
            buffer[count] = blockSum / Double(blockCount)
            count += 1
            blockSum = 0
            blockCount = 0
            if count == buffer.count { compact(&buffer) }
        }
        if lag == 0 {
            guard count >= Self.minimumPoints, sweptBlock != block, !exhausted else { return nil }
            startSweep()
        }
        return sweepStep(buffer)
    }

    /// Halves the window's resolution: pairs of points become one, the block doubles, a sweep in progress stops.
    mutating func compact(_ buffer: inout ContiguousArray<Double>) {
        let half = count / 2
        for k in 0..<half { buffer[k] = 0.5 * (buffer[2 * k] + buffer[2 * k + 1]) }
        count = half
        lag = 0
        if block >= Self.maximumBlock { exhausted = true } else { block *= 2 }
    }

    mutating func startSweep() {
        lag = 1
        sweptBlock = block
        previous = 0; beforePrevious = 0; lowest = 1
        bestLag = 0; best = 0; bestLeft = 0; bestRight = 0
    }

    /// Evaluates one lag; at the end of the sweep, judges it.
    @inline(__always)
    mutating func sweepStep(_ buffer: ContiguousArray<Double>) -> Double? {
        let n = count
        let l = lag
        guard l <= Self.maximumLag, 2 * l <= n else { return endSweep() }
        let r = Self.correlation(buffer, count: n, lag: l)
        // The lag before this one is a peak if it rose and this one does not rise further.
        if l >= 3, previous > beforePrevious, previous >= r, previous >= Self.threshold, lowest <= 0,
           bestLag == 0 || previous > best + 0.1 {
            bestLag = l - 1
            best = previous
            bestLeft = beforePrevious
            bestRight = r
        }
        if l >= 2 { lowest = min(lowest, previous) }
        beforePrevious = previous
        previous = r
        lag = l + 1
        return nil
    }

    mutating func endSweep() -> Double? {
        lag = 0
        var found = 0.0, foundLag = 0.0
        if bestLag > 0 {
            let curvature = bestLeft - 2 * best + bestRight
            let shift = curvature < 0 ? min(max(0.5 * (bestLeft - bestRight) / curvature, -0.5), 0.5) : 0
            foundLag = Double(bestLag) + shift
            found = foundLag * Double(block)
        }
        defer {
            candidate = found
            candidateLag = foundLag
        }
        guard found > 0, candidate > 0, abs(found / candidate - 1) <= Self.agreement else { return nil }
        // The finer of the two estimates: the one with more points per period.
        return candidateLag > foundLag ? candidate : found
    }

    /// Pearson correlation of `buffer[0 ..< n - lag]` with `buffer[lag ..< n]` (0 when either is constant).
    @inline(__always)
    static func correlation(_ buffer: ContiguousArray<Double>, count n: Int, lag: Int) -> Double {
        buffer.withUnsafeBufferPointer { p in
            let m = n - lag
            // Centred on the first point, so a large offset costs no precision.
            let origin = p[0]
            var sa = 0.0, sb = 0.0, saa = 0.0, sbb = 0.0, sab = 0.0
            for k in 0..<m {
                let a = p[k] - origin, b = p[k + lag] - origin
                sa += a; sb += b
                saa += a * a; sbb += b * b; sab += a * b
            }
            let dm = Double(m)
            let va = saa - sa * sa / dm, vb = sbb - sb * sb / dm
            guard va > 0, vb > 0 else { return 0 }
            let r = (sab - sa * sb / dm) / (va * vb).squareRoot()
            return r.isFinite ? r : 0
        }
    }
}
