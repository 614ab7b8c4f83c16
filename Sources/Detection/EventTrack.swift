/// Event assembly state of one sensor: the open event, hysteresis, cooldown and the values for its window.
struct EventTrack {
    static let historyCapacity = 32
    static let duringCapacity = 28

    /// The opened message of the event in progress (built when it opened; rare, may allocate).
    var opened: AnomalyEvent?
    var kind = AnomalyKind.spike
    var start: Int64 = 0
    var baseline = 0.0
    var peak = 0.0
    var peakScore = 0.0
    var lastAboveCount = 0
    var lastAboveT: Int64 = 0
    var cooldownUntil = 0
    /// Reading count when the event opened, and whether its level was already accepted as the new normal.
    var openedCount = 0
    var relearned = false

    /// A spike candidate waiting one reading to tell a lone outlier from the first reading of a shift.
    var pending = false
    var pendingT: Int64 = 0
    var pendingX = 0.0
    var pendingScore = 0.0
    var pendingBaseline = 0.0

    /// First reading of the current run beyond a limit (`Int64.min`: inside), for the on-delay.
    var breachSince = Int64.min
    /// When the last openings were detected (newest in lane 0; `Int64.min`: none), for chattering; and until when
    /// the open alert is latched (it opened close to chattering, so it clears only after the chatter window).
    var openings = SIMD4<Int64>(repeating: .min)
    var latchedUntil = Int64.min

    /// Start of the current run of elevated scores (above the close threshold).
    var elevated = false
    var elevatedSince: Int64 = 0
    var elevatedLevelZ = 0.0

    // The last readings, for the window before an event.
    var historyT: ContiguousArray<Int64> = ContiguousArray(repeating: 0, count: historyCapacity)
    var historyV: ContiguousArray<Double> = ContiguousArray(repeating: 0, count: historyCapacity)
    var historyHead = 0
    var historyCount = 0

    // Readings during the event, decimated by doubling the stride when full. Allocated when an event
    // records its first reading and given back when it ends: most sensors have no event open, and
    // at 100k sensors the idle buffers were 50 MB.
    var duringT: ContiguousArray<Int64> = []
    var duringV: ContiguousArray<Double> = []
    var duringCount = 0
    var duringStride = 1
    var duringSkip = 0

    /// The id of this sensor's last event, so that a repeated start time (out-of-order clocks) never reuses one.
    var lastID = ""
    var idRepeat = 0

    /// When the sensor was last heard (the detector's clock or the reading's time, whichever is later), and the
    /// latest reading time seen (readings may arrive out of order).
    var heardAt: Int64 = 0
    var latestT: Int64 = 0

    var isOpen: Bool { opened != nil }

    /// Records an opening at `t`; until when (ms) the alert must stay open so that the sensor cannot chatter
    /// (`Int64.min`: no latch). `count` openings within `windowMs` are chattering: the opening that brings the
    /// window to `count - 1` stays open until the window that began with the oldest of them has passed, so a
    /// `count`-th cannot fall within it. Four openings are remembered, enough for a count up to 5.
    @inline(__always)
    mutating func recordOpening(at t: Int64, count: Int, windowMs: Double) -> Int64 {
        var within = 1
        var oldest = t
        if count >= 3 {
            for k in 0..<min(count - 2, 4) where openings[k] != .min && Double(t &- openings[k]) <= windowMs {
                within += 1
                oldest = min(oldest, openings[k])
            }
        }
        openings = SIMD4(t, openings[0], openings[1], openings[2])
        guard count >= 2, within >= count - 1, windowMs < 0x1p52 else { return .min }
        return oldest &+ Int64(windowMs)
    }

    @inline(__always)
    mutating func remember(t: Int64, x: Double) {
        historyT[historyHead] = t
        historyV[historyHead] = x
        historyHead += 1
        if historyHead == Self.historyCapacity { historyHead = 0 }
        if historyCount < Self.historyCapacity { historyCount += 1 }
    }

    @inline(__always)
    mutating func recordDuring(t: Int64, x: Double) {
        duringSkip += 1
        guard duringSkip >= duringStride else { return }
        duringSkip = 0
        if duringT.isEmpty { allocateDuring() }
        if duringCount == Self.duringCapacity {
            // Keep every other point and halve the rate from now on: bounded size, even coverage.
            var k = 0
            var i = 0
            while i < duringCount {
                duringT[k] = duringT[i]
                duringV[k] = duringV[i]
                k += 1
                i += 2
            }
            duringCount = k
            duringStride *= 2
        }
        duringT[duringCount] = t
        duringV[duringCount] = x
        duringCount += 1
    }

    /// The last readings, oldest first (event emission only).
    func history(limit: Int) -> [WindowPoint] {
        let n = min(historyCount, limit)
        var points: [WindowPoint] = []
        points.reserveCapacity(n)
        for k in stride(from: n - 1, through: 0, by: -1) {
            var i = historyHead - 1 - k
            if i < 0 { i += Self.historyCapacity }
            points.append(WindowPoint(t: historyT[i], v: historyV[i]))
        }
        return points
    }

    func during() -> [WindowPoint] {
        (0..<duringCount).map { WindowPoint(t: duringT[$0], v: duringV[$0]) }
    }

    mutating func resetDuring() {
        duringCount = 0
        duringStride = 1
        duringSkip = 0
        releaseDuring()
    }

    /// The event's buffers at full capacity (the state file always holds them at that size).
    mutating func allocateDuring() {
        duringT = ContiguousArray(repeating: 0, count: Self.duringCapacity)
        duringV = ContiguousArray(repeating: 0, count: Self.duringCapacity)
    }

    /// Zeros at full capacity, shared by every idle sensor while its state is written: a save
    /// allocates nothing for them, and a read copies them only to fill them in.
    static let idleDuringT = ContiguousArray<Int64>(repeating: 0, count: duringCapacity)
    static let idleDuringV = ContiguousArray<Double>(repeating: 0, count: duringCapacity)

    /// Gives the buffers back when no reading is recorded in them.
    mutating func releaseDuring() {
        guard duringCount == 0, !duringT.isEmpty else { return }
        duringT = []
        duringV = []
    }
}

/// Evenly thins a list of points to at most `limit`, keeping the first and the last.
func downsample(_ points: [WindowPoint], limit: Int) -> [WindowPoint] {
    guard limit > 1, points.count > limit else { return Array(points.prefix(max(limit, 0))) }
    let step = Double(points.count - 1) / Double(limit - 1)
    return (0..<limit).map { points[Int((Double($0) * step).rounded())] }
}
