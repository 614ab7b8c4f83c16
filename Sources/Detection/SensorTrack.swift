import Foundation

/// Values of a related sensor handed to the correlation detector with one reading (at most 4 partners).
struct PartnerValues {
    var values = SIMD4<Double>(repeating: 0)
    var fresh = SIMD4<Double>(repeating: 0)
}

/// What one reading did to a sensor's detectors.
struct Observation {
    /// Fused score in [0, 1].
    var score = 0.0
    /// The detector with the strongest evidence.
    var dominant = DetectorKind.none
    /// Signed, calibrated z of the spike detector (one-step innovation).
    var spikeZ = 0.0
    /// Signed, calibrated z of the adjacent-window level test.
    var levelZ = 0.0
    /// Signed, calibrated z of the recent window against the long baseline.
    var driftZ = 0.0
    /// The reading moved to another level the sensor knows well: its evidence was discounted.
    var familiar = false
}

/// The streaming statistics of one sensor: fixed-capacity buffers allocated at init, O(1) work per reading.
///
/// Detectors (each yields a z that is calibrated online so that its normal-time second moment is 1):
/// - spike/dip: one-step innovation `x - level` against a Huber-clipped EWMA level and its mean absolute innovation;
/// - level shift: mean of the recent window against the adjacent reference window (values winsorized at 4 sigma,
///   so a lone outlier cannot fake a shift);
/// - drift: recent-window mean against a slow baseline that stops learning while the sensor is abnormal;
/// - volatility shift: mean absolute first difference of a window against its slow baseline;
/// - stuck: run length of unchanged values against the learned probability that a repeat is followed by another;
/// - seasonal: residual against a per-phase profile of the configured season, or of the season found in the data
///   (`SeasonSearch`, whose window is the same buffer as the profile);
/// - correlation: residual of an online regression on each related sensor whose normal correlation is strong.
struct SensorTrack {
    var settings: SensorSettings

    // Clock.
    var count = 0
    var lastT: Int64 = 0
    var lastX = 0.0
    /// Learned mean interval between readings (ms).
    var interval = 0.0
    var firstT: Int64 = 0
    /// Set once the warm-up is over (by readings or by time).
    var warm = false

    // One-step level (spike/dip).
    var level = 0.0
    var innovation = 0.0

    // Slow baseline (drift, and the "normal" reported in events).
    var mean = 0.0
    var spread = 0.0
    var baselineCount = 0

    // Adjacent windows (level shift): ring of winsorized values, recent window first.
    var values: ContiguousArray<Double>
    var valuesHead = 0
    var valuesCount = 0
    var recentSum = 0.0
    var referenceSum = 0.0

    // Volatility: ring of clipped absolute differences and their slow baseline.
    var diffs: ContiguousArray<Double>
    var diffsHead = 0
    var diffsCount = 0
    var diffSum = 0.0
    var meanDiff = 0.0

    // Stuck.
    var run = 0
    var runStart: Int64 = 0
    var stayRate = 0.0
    var stayCount = 0
    var repeatRate = 0.0

    /// The levels the sensor has dwelt at (`ModeMemory`): a jump to one it knew is not news.
    var modes = ModeMemory()

    // Online calibration: EWMA of the clipped square of each detector's raw z at normal times.
    var calibrationCount = 0
    var calSpike = Calibration()
    var calLevel = Calibration()
    var calVolatility = Calibration()
    var calDrift = Calibration()
    var calSeasonal = Calibration()
    var calCorrelation = Calibration()

    // Seasonal profile: per-bin expected value (NaN until visited) and the residual spread.
    var season: ContiguousArray<Double>
    var seasonVisited = 0
    var seasonSpread = 0.0
    /// Readings learned into the profile after each bin's first.
    var seasonLearned = 0
    /// The search for a season when none is configured, and what it found (ms and bins; 0: nothing yet).
    var seasonSearch = SeasonSearch()
    var seasonFoundMs = 0.0
    var seasonFoundBins = 0

    // Correlation with up to four partners, each with the running statistics of its pair.
    var partners: SIMD4<Int32> = SIMD4(repeating: -1)
    var partnerCount = 0
    /// Empty until the sensor has a partner (most have none: 4 slots cost 272 bytes a sensor), then 4 slots.
    var pairs: ContiguousArray<PairStatistics> = []

    /// Residuals the seasonal calibration learns before the seasonal detector takes part in the fusion.
    static let seasonCalibrationReadings = 200
    static let maxPartners = 4

    init(settings: SensorSettings) {
        self.settings = settings
        values = ContiguousArray(repeating: 0, count: settings.recentWindow + settings.referenceWindow)
        diffs = ContiguousArray(repeating: 0, count: settings.volatilityWindow)
        season = ContiguousArray(repeating: .nan, count: settings.seasonCapacity)
    }

    /// Gives the track its pair slots (before its first partner is set).
    mutating func allocatePairs() {
        if pairs.isEmpty { pairs = ContiguousArray(repeating: PairStatistics(), count: Self.maxPartners) }
    }

    var warmedUpWindows: Bool { valuesCount == values.count }

    /// Robust standard deviation of the slow baseline.
    @inline(__always) var sigma: Double { max(Gaussian.sigmaPerMeanAbsoluteDeviation * spread, floor) }
    @inline(__always) var floor: Double { 1e-9 * max(1, abs(mean)) }

    /// Feeds one reading. `abnormal` freezes (slows) baseline learning while an event is open.
    @inline(__always)
    mutating func observe(
        t: Int64, x: Double, abnormal: Bool, closeThreshold: Double, configuration c: DetectorConfiguration,
        partnerValues: PartnerValues
    ) -> Observation {
        var o = Observation()
        if count > 0 {
            let dt = Double(t &- lastT)
            if dt > 0 { interval = interval == 0 ? dt : interval + 0.05 * (dt - interval) }
        }
        count &+= 1
        if count == 1 {
            level = x; mean = x; lastX = x; lastT = t; runStart = t; firstT = t
            pushValue(x)
            // The very first reading is checked against the engineering limits too: they need no baseline.
            if settings.limitsOn, x < settings.low || x > settings.high {
                o.score = 1
                o.dominant = .limits
            }
            return o
        }

        let s = settings
        let floor = self.floor
        let sigmaInnovation = max(Gaussian.sigmaPerMeanAbsoluteDeviation * innovation, floor)
        let sigmaNoise = max(meanDiff * Gaussian.sigmaPerMeanAbsoluteDifference, floor)
        let r = x - level
        let dx = x - lastX

        // Raw statistics from the state before this reading.
        var zSpike = 0.0, zLevel = 0.0, zDrift = 0.0, zVolatility = 0.0, zSeasonal = 0.0, zCorrelation = 0.0
        if s.spikeOn { zSpike = r / sigmaInnovation }

        let clipped = min(max(x, level - 4 * sigmaInnovation), level + 4 * sigmaInnovation)
        pushValue(clipped)
        let w1 = Double(s.recentWindow), w2 = Double(s.referenceWindow)
        if warmedUpWindows {
            let m1 = recentSum / w1, m2 = referenceSum / w2
            if s.levelOn { zLevel = (m1 - m2) / (sigmaNoise * (1 / w1 + 1 / w2).squareRoot()) }
            if s.driftOn { zDrift = (m1 - mean) * w1.squareRoot() / sigmaNoise }
        }

        let absDiff = min(abs(dx), 6 * max(meanDiff, floor))
        pushDiff(absDiff)
        if s.volatilityOn, diffsCount == diffs.count, meanDiff > floor {
            // Log of the ratio of mean absolute differences: nearly symmetric, sd about 0.8 / sqrt(window).
            let wv = Double(diffs.count)
            let ratio = max(diffSum / wv / meanDiff, 0.05)
            zVolatility = Foundation.log(ratio) * wv.squareRoot() / 0.8
        }

        // Stuck: geometric tail of the run of unchanged values.
        let repeated = abs(dx) <= s.stuckTolerance
        let wasRepeat = run > 0
        if repeated { run &+= 1 } else { run = 0; runStart = t }
        var log10Stuck = 0.0
        if s.stuckOn, run > 0 {
            // Chance that a repeat is followed by another: learned where seen, else the plain repeat rate.
            let q = min(max(stayCount >= 20 ? max(stayRate, repeatRate) : repeatRate, 0.05), 0.98)
            log10Stuck = Double(run) * Foundation.log10(q)
            if run >= s.stuckMinimumRun { log10Stuck = -1000 }
        }

        // Seasonal residual.
        var bin = 0
        let bins = s.seasonBins
        if s.seasonalOn, bins > 0 {
            let phase = Double(((t % Int64(s.seasonMs)) + Int64(s.seasonMs)) % Int64(s.seasonMs)) / s.seasonMs
            bin = min(Int(phase * Double(bins)), bins - 1)
            let expected = season[bin]
            // Scored once every bin has a value and the profile has seen about three seasons.
            if !expected.isNaN, seasonVisited == bins, seasonLearned >= 3 * bins, seasonSpread > 0 {
                zSeasonal = (x - expected) / max(Gaussian.sigmaPerMeanAbsoluteDeviation * seasonSpread, floor)
            }
        }

        // Correlation residuals: the strongest broken relation.
        if s.correlationOn, partnerCount > 0 {
            zCorrelation = correlationZ(x: x, partnerValues: partnerValues)
        }

        // Calibrate and fuse.
        let calibrated = (
            spike: zSpike * s.spikeGain / calSpike.scale, level: zLevel * s.levelGain / calLevel.scale,
            drift: zDrift * s.driftGain / calDrift.scale, volatility: zVolatility * s.volatilityGain / calVolatility.scale,
            seasonal: zSeasonal * s.seasonalGain / calSeasonal.scale,
            correlation: zCorrelation * s.correlationGain / calCorrelation.scale)
        o.spikeZ = calibrated.spike; o.levelZ = calibrated.level; o.driftZ = calibrated.drift

        // Each statistic's log10 tail probability: the more cautious of its Gaussian and exponential tails.
        var log10P = 0.0
        var dominant = DetectorKind.none
        // Window statistics share the Gaussian mapping: only the largest needs its tail computed.
        var best = 0.5
        @inline(__always) func consider(_ calibrated: Double, _ kind: DetectorKind) {
            let a = abs(calibrated)
            if a > best { best = a; dominant = kind }
        }
        if s.levelOn { consider(calibrated.level, .levelShift) }
        if s.driftOn { consider(calibrated.drift, .drift) }
        if s.volatilityOn { consider(calibrated.volatility, .volatilityShift) }
        if zCorrelation != 0 { consider(calibrated.correlation, .correlation) }
        if dominant != .none { log10P = TailProbability.log10TwoSided(best) }
        // The seasonal residual is one reading's, as heavy-tailed as the series: it honours its exponential tail too.
        // ...once its own calibration has seen 200 residuals (a season found late starts with a young one).
        if zSeasonal != 0, seasonLearned >= 3 * bins + Self.seasonCalibrationReadings {
            let exponential = calSeasonal.log10ExponentialTail(zSeasonal * s.seasonalGain)
            if exponential < log10P {
                let v = max(exponential, TailProbability.log10TwoSided(calibrated.seasonal))
                if v < log10P { log10P = v; dominant = .seasonal }
            }
        }
        // Single readings may be heavy-tailed: the spike detector also honours its learned exponential tail.
        if s.spikeOn {
            let exponential = calSpike.log10ExponentialTail(zSpike * s.spikeGain)
            if exponential < log10P {
                let v = max(exponential, TailProbability.log10TwoSided(calibrated.spike))
                if v < log10P { log10P = v; dominant = .spike }
            }
        }
        if log10Stuck < log10P { log10P = log10Stuck; dominant = .stuck }
        log10P += s.log10TestCount
        o.score = TailProbability.score(log10P: log10P)
        // A move to another level the sensor already knows (a square wave, a duty cycle, the other quantum) is
        // what it did before: the level, drift, volatility and spike evidence of that reading is discounted.
        // Not while an event is open: a fault that stays where it went stays reported.
        if !abnormal, count > c.minimumWarmUpReadings, o.score >= closeThreshold,
           modes.isFamiliarMove(x: x, baseline: mean, reference: referenceSum / Double(max(s.referenceWindow, 1))) {
            switch dominant {
            case .spike, .levelShift, .drift, .volatilityShift:
                o.score = min(o.score, 0.5 * closeThreshold)
                o.familiar = true
            default: break
            }
        }
        if s.limitsOn, x < s.low || x > s.high {
            o.score = 1
            dominant = .limits
        }
        o.dominant = dominant

        // Learn. The one-step level always follows (clipped); the baselines learn at normal times only.
        modes.learn(x, noise: max(sigmaInnovation, floor))
        let normal = !abnormal && o.score < closeThreshold
        // Window statistics learn only at clearly normal times (a creeping anomaly must not become the norm);
        // the spike statistic also learns from elevated readings, so that a heavy tail is learned as such.
        let spikeCalibrating = !abnormal && o.score < c.openThreshold
        if !self.warm {
            self.warm = count > c.warmUpReadings
                || (count > c.minimumWarmUpReadings && Double(t &- firstT) >= c.warmUpSeconds * 1000)
        }
        let warming = !self.warm
        let fast = max(s.spikeAlpha, 1 / Double(count))
        let clipR = count < 8 ? r : min(max(r, -3 * sigmaInnovation), 3 * sigmaInnovation)
        level += fast * clipR
        let innovationRate = max(1 / Double(count - 1), 1 / Double(c.baselineReadings) * 4)
        let ar = count < 8 ? abs(r) : min(abs(r), 4 * sigmaInnovation)
        if normal || warming { innovation += innovationRate * (ar - innovation) }

        baselineCount &+= 1
        var rate = max(1 / Double(baselineCount), 1 / Double(c.baselineReadings))
        if !(normal || warming) { rate *= c.abnormalLearningFactor }
        let e = x - mean
        let sigmaBaseline = sigma
        let ce = baselineCount < 8 ? e : min(max(e, -3 * sigmaBaseline), 3 * sigmaBaseline)
        mean += rate * ce
        spread += rate * (min(abs(e), 4 * sigmaBaseline) - spread)
        if baselineCount < 8 { spread = max(spread, abs(e) * 0.5) }
        meanDiff += rate * (min(abs(dx), 6 * max(meanDiff, floor)) - meanDiff)
        if count < 8 { meanDiff = max(meanDiff, abs(dx) * 0.5) }
        if normal || warming {
            repeatRate += rate * ((repeated ? 1 : 0) - repeatRate)
            if wasRepeat {
                stayCount &+= 1
                stayRate += max(1 / Double(stayCount), rate) * ((repeated ? 1 : 0) - stayRate)
            }
        }

        if warmedUpWindows {
            learnCalibrations(spike: zSpike, level: zLevel, drift: zDrift, volatility: zVolatility, seasonal: zSeasonal,
                              correlation: zCorrelation, normal: normal || warming, spikeOnly: spikeCalibrating, configuration: c)
        }
        if s.seasonalOn, bins > 0, normal || warming { learnSeasonProfile(x: x, bin: bin, rate: rate, floor: floor) }

        if s.seasonSearch, seasonFoundMs == 0 {
            if count > 1 { seasonSearch.observeInterval(Double(t &- lastT)) }
            if let readings = seasonSearch.observe(clipped, buffer: &season) { useSeason(readings: readings) }
        }

        if s.correlationOn, partnerCount > 0, normal || warming {
            learnCorrelation(x: x, partnerValues: partnerValues, rate: rate)
        }

        lastT = t
        lastX = x
        if !(mean.isFinite && spread.isFinite && level.isFinite && innovation.isFinite && meanDiff.isFinite
             && recentSum.isFinite && referenceSum.isFinite && diffSum.isFinite) {
            // Values so extreme that the arithmetic overflowed: start learning afresh rather than stay poisoned.
            relearnFromScratch()
            o.score = o.dominant == .limits ? 1 : 0
        }
        return o
    }

    /// Each statistic's calibration learns at normal times; the spike's also from merely elevated readings
    /// (`spikeCalibrating`), so that a heavy tail is learned as such. Fast while young, then slow: an anomaly
    /// that creeps in must not become the calibration.
    @inline(__always)
    private mutating func learnCalibrations(spike: Double, level: Double, drift: Double, volatility: Double, seasonal: Double,
                                            correlation: Double, normal: Bool, spikeOnly spikeCalibrating: Bool,
                                            configuration c: DetectorConfiguration) {
        guard normal || spikeCalibrating else { return }
        calibrationCount &+= 1
        let n = Double(calibrationCount)
        let k = calibrationCount <= 200 ? 1 / n : 1 / Double(c.calibrationReadings)
        let eta = max(0.5 / n, 16 / Double(c.calibrationReadings))
        calSpike.update(spike, k: k, eta: eta)
        guard normal else { return }
        calLevel.update(level, k: k, eta: eta)
        calDrift.update(drift, k: k, eta: eta)
        calVolatility.update(volatility, k: k, eta: eta)
        if seasonal != 0 {
            // The seasonal calibration counts from when the profile started scoring.
            let ns = Double(max(seasonLearned - 3 * settings.seasonBins, 1))
            let ks = ns <= 200 ? 1 / ns : 1 / Double(c.calibrationReadings)
            calSeasonal.update(seasonal, k: ks, eta: max(0.5 / ns, 16 / Double(c.calibrationReadings)))
        }
        if correlation != 0 { calCorrelation.update(correlation, k: k, eta: eta) }
    }

    /// The seasonal profile learns the reading into its phase bin (the first value as it is, then 10 % of the
    /// clipped residual); its spread learns fast while young (a season may be found long after the baseline).
    @inline(__always)
    private mutating func learnSeasonProfile(x: Double, bin: Int, rate: Double, floor: Double) {
        let expected = season[bin]
        if expected.isNaN {
            season[bin] = x
            seasonVisited &+= 1
            return
        }
        seasonLearned &+= 1
        let res = x - expected
        let sc = max(Gaussian.sigmaPerMeanAbsoluteDeviation * seasonSpread, floor)
        let young = seasonLearned < 8
        let cr = young ? res : min(max(res, -3 * sc), 3 * sc)
        season[bin] = expected + 0.1 * cr
        let k = max(rate, 1 / Double(seasonLearned))
        seasonSpread += k * ((young ? abs(res) : min(abs(res), 4 * sc)) - seasonSpread)
    }

    /// Forgets everything learned (rare: only after an arithmetic overflow; allocates new buffers).
    mutating func relearnFromScratch() {
        var fresh = SensorTrack(settings: settings)
        fresh.partners = partners
        fresh.partnerCount = partnerCount
        if partnerCount > 0 { fresh.allocatePairs() }
        fresh.seasonFoundMs = seasonFoundMs
        fresh.seasonFoundBins = seasonFoundBins
        self = fresh
    }

    /// Runs the seasonal detector on a season of `readings` readings found by the search (from now on, as if it
    /// had been configured: the profile is learned afresh in the buffer that held the search window).
    mutating func useSeason(readings: Double) {
        let ms = readings * seasonSearch.step
        // At least four readings per season, and a length the phase arithmetic can hold.
        guard readings >= 4, ms >= 4, ms <= 3.2e11 else { return }
        let bins = min(Int(readings), SeasonSearch.window)
        seasonFoundMs = ms
        seasonFoundBins = bins
        applyFoundSeason()
        for k in 0..<bins { season[k] = .nan }
        seasonVisited = 0
        seasonSpread = 0
        seasonLearned = 0
        // The residuals of a series are about as heavy-tailed as its one-step innovations: start from their tails.
        calSeasonal = calSpike
    }

    /// Puts a found season into the settings (after it was found, or restored).
    mutating func applyFoundSeason() {
        guard seasonFoundMs > 0 else { return }
        settings.useDetectedSeason(milliseconds: seasonFoundMs, bins: seasonFoundBins)
    }

    /// Whether the recent window is back at `baseline` (within three standard errors of its mean), for the kinds
    /// of event that move the level.
    @inline(__always)
    func isBack(at baseline: Double, kind: AnomalyKind) -> Bool {
        switch kind {
        case .levelShift, .drift, .spike, .dip, .seasonal: break
        default: return false
        }
        guard valuesCount >= settings.recentWindow else { return false }
        let w = Double(settings.recentWindow)
        return abs(recentSum / w - baseline) <= 3 * sigma / w.squareRoot()
    }

    /// The level came back after an event: the baseline is the one from before it, and the windows forget the
    /// excursion (so the way back is not a level shift of its own).
    mutating func returnToBaseline(_ baseline: Double) {
        mean = baseline
        guard warmedUpWindows else { return }
        let m = recentSum / Double(settings.recentWindow)
        for k in values.indices { values[k] = m }
        recentSum = m * Double(settings.recentWindow)
        referenceSum = m * Double(settings.referenceWindow)
    }

    /// Takes the recent window as the new normal level and spread (after a long event).
    mutating func acceptPresentLevel() {
        guard warmedUpWindows, diffsCount == diffs.count else { return }
        mean = recentSum / Double(settings.recentWindow)
        level = lastX
        meanDiff = max(diffSum / Double(diffs.count), meanDiff * 0.25)
        // The windows forget the old level too.
        for k in values.indices { values[k] = mean }
        recentSum = mean * Double(settings.recentWindow)
        referenceSum = mean * Double(settings.referenceWindow)
    }

    @inline(__always)
    mutating func pushValue(_ v: Double) {
        let capacity = values.count
        let w1 = settings.recentWindow
        // The value leaving the recent window joins the reference window; the oldest leaves altogether.
        if valuesCount == capacity { referenceSum -= values[valuesHead] }
        if valuesCount >= w1 {
            var i = valuesHead - w1
            if i < 0 { i += capacity }
            let moving = values[i]
            recentSum -= moving
            referenceSum += moving
        }
        values[valuesHead] = v
        recentSum += v
        valuesHead += 1
        if valuesHead == capacity {
            valuesHead = 0
            if valuesCount == capacity { resumValues() }
        }
        if valuesCount < capacity { valuesCount += 1 }
    }

    /// Recomputes the running sums once per lap of the ring, so rounding errors cannot accumulate.
    mutating func resumValues() {
        let capacity = values.count, w1 = settings.recentWindow
        var recent = 0.0, reference = 0.0
        for k in 0..<capacity {
            // Age 0 is the newest value, at head - 1.
            var i = valuesHead - 1 - k
            if i < 0 { i += capacity }
            if k < w1 { recent += values[i] } else { reference += values[i] }
        }
        recentSum = recent
        referenceSum = reference
    }

    @inline(__always)
    mutating func pushDiff(_ v: Double) {
        let capacity = diffs.count
        if capacity == 0 { return }
        if diffsCount == capacity { diffSum -= diffs[diffsHead] } else { diffsCount += 1 }
        diffs[diffsHead] = v
        diffSum += v
        diffsHead += 1
        if diffsHead == capacity {
            diffsHead = 0
            var total = 0.0
            for k in 0..<capacity { total += diffs[k] }
            diffSum = total
        }
    }

    /// The strongest broken relation: the largest residual of this reading from a partner's regression.
    @inline(__always)
    func correlationZ(x: Double, partnerValues: PartnerValues) -> Double {
        var best = 0.0
        for p in 0..<partnerCount where partnerValues.fresh[p] != 0 {
            guard let z = pairs[p].residualZ(x: x, partner: partnerValues.values[p], minimumCorrelation: settings.minimumCorrelation)
            else { continue }
            if abs(z) > abs(best) { best = z }
        }
        return best
    }

    @inline(__always)
    mutating func learnCorrelation(x: Double, partnerValues: PartnerValues, rate: Double) {
        for p in 0..<partnerCount where partnerValues.fresh[p] != 0 {
            pairs[p].learn(x: x, partner: partnerValues.values[p], rate: rate)
        }
    }
}

/// The running statistics of a sensor (`self`) and one partner: means, variances, covariance, the variance of
/// the residual from the regression of self on the partner, and how many readings they have seen.
struct PairStatistics: Sendable {
    var meanSelf = 0.0, meanOther = 0.0
    var varianceSelf = 0.0, varianceOther = 0.0, covariance = 0.0
    var residualVariance = 0.0
    var count = 0.0

    /// The residual of `x` from what the partner's value predicts, in residual standard deviations; nil until
    /// the pair has enough readings and correlates at least `minimumCorrelation`.
    @inline(__always)
    func residualZ(x: Double, partner y: Double, minimumCorrelation: Double) -> Double? {
        guard count > 50, varianceSelf > 0, varianceOther > 0, residualVariance > 0 else { return nil }
        guard abs(covariance / (varianceSelf * varianceOther).squareRoot()) >= minimumCorrelation else { return nil }
        return (x - predicted(from: y)) / residualVariance.squareRoot()
    }

    @inline(__always)
    func predicted(from y: Double) -> Double { meanSelf + covariance / varianceOther * (y - meanOther) }

    /// Exponentially weighted update (`rate`, or 1/n while young); the residual variance learns from the
    /// regression before this reading, each squared residual capped at 16 variances once past 20 readings.
    @inline(__always)
    mutating func learn(x: Double, partner y: Double, rate: Double) {
        count += 1
        if count == 1 {
            meanSelf = x; meanOther = y
            return
        }
        let k = max(1 / count, rate)
        if varianceOther > 0 {
            let res = x - predicted(from: y)
            let rv = residualVariance
            let capped = rv > 0 && count > 20 ? min(res * res, 16 * rv) : res * res
            residualVariance = rv + k * (capped - rv)
        }
        let di = x - meanSelf, dj = y - meanOther
        meanSelf += k * di
        meanOther += k * dj
        varianceSelf += k * ((1 - k) * di * di - varianceSelf)
        varianceOther += k * ((1 - k) * dj * dj - varianceOther)
        covariance += k * ((1 - k) * di * dj - covariance)
    }

    /// The seven fields in their saved order.
    mutating func code<C: StateCoder>(_ c: inout C) throws {
        try c.code(&meanSelf); try c.code(&meanOther); try c.code(&varianceSelf); try c.code(&varianceOther)
        try c.code(&covariance); try c.code(&residualVariance); try c.code(&count)
    }
    static let fieldCount = 7
}
