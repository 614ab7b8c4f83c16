import Telemetry

/// The streaming detector of a whole plant: one fixed-size state per catalog sensor.
///
/// Single-threaded: the pipeline owns it. Per reading, `ingest` does constant work and allocates nothing
/// unless an event opens or resolves (event emission builds the event, its related deviations and window):
/// - statistics: a one-step Huber EWMA, a slow gated baseline, two running window sums (recent 8 / reference 32
///   readings by default, at most 32 + 64), a window of 32 absolute differences, a run counter, a seasonal
///   bin (at most 128), up to four related-sensor regressions, six online calibrations; while no season is
///   configured or found, one step of the season search (`SeasonSearch`: at most one 96-point correlation);
///   during the warm-up of an asset with no related sensors in the catalog, at most 7 pair updates
///   (`PairDiscovery`), and once its decision (28 correlations and a sort; it allocates a short list, in warm-up);
/// - fusion: one Gaussian tail (erfc + log10) for the strongest window statistic and at most one more for the
///   spike statistic;
/// - worst case: once per lap of a ring (every 32-40 readings) its sum is recomputed (at most 96 + 64 adds), an
///   open event's window is halved when full (28 moves), and after an arithmetic overflow a sensor relearns
///   from scratch (the only allocation without an event);
/// - mode memory (`ModeMemory`): 8 levels, a nearest-level search and one update per reading.
/// State: 4,272 bytes per sensor with a season (configured or searched for: the search window and the profile
/// share one 96-value buffer).
/// Measured with `vigil bench detect` (release): see the command's output.
/// `advance(to:)` touches only the sensors whose silence may be due (`SilenceQueue`, O(log sensors) each), so the
/// clock may move with every reading of a large catalog; a reading moves its sensor's check in O(1) (O(log sensors)
/// when the check comes earlier).
public final class PlantDetector {
    public let catalog: Catalog
    public let configuration: DetectorConfiguration

    var tracks: [SensorTrack]
    var eventTracks: [EventTrack]
    /// Sensors described alongside an event: the catalog's `related` (per sensor, only those with any), then the
    /// rest of the same asset (one list per asset, shared by its sensors: a list per sensor was 10 MB at 100k).
    let relatedOf: [Int: [Int]]
    let assetMembers: [[Int32]]
    let assetOf: [Int32]
    let sensorIDs: [SensorID]
    let assetIDs: [String]
    /// Assets whose related sensors are being discovered; each sensor's group (-1: none) and slot in it.
    var discoveries: [PairDiscovery]
    let discoveryGroup: [Int32]
    let discoverySlot: [Int32]
    /// The latest time the clock was advanced to (ms): a reading counts as heard at this time or its own,
    /// whichever is later, so late or out-of-order readings cannot make a sensor look silent.
    var clock: Int64 = .min
    /// When each sensor's silence may come due (a lower bound per sensor; see `silenceCheckTime`).
    var silenceQueue: SilenceQueue
    /// The sensors found silent in one `advance` (reused).
    var silent: [Int] = []

    public init(catalog: Catalog, configuration: DetectorConfiguration = .init()) {
        self.catalog = catalog
        var c = configuration
        c.windowPoints = min(max(c.windowPoints, 2), 60)
        c.warmUpReadings = max(c.warmUpReadings, 2)
        c.minimumWarmUpReadings = min(max(c.minimumWarmUpReadings, 2), c.warmUpReadings)
        if !(c.warmUpSeconds >= 0) { c.warmUpSeconds = .infinity }
        c.baselineReadings = max(c.baselineReadings, 10)
        c.quietReadings = max(c.quietReadings, 1)
        c.calibrationReadings = max(c.calibrationReadings, 10)
        c.relearnReadings = max(c.relearnReadings, 1)
        self.configuration = c
        sensorIDs = catalog.sensors.map(\.id)
        assetIDs = catalog.sensors.map(\.asset)

        var tracks: [SensorTrack] = []
        tracks.reserveCapacity(catalog.sensors.count)
        var relatedOf: [Int: [Int]] = [:]
        // The sensors of each asset, in catalog order (one pass: a scan per sensor was quadratic).
        var assetIndex: [String: Int] = [:]
        var members: [[Int32]] = []
        var assetOf: [Int32] = []
        assetOf.reserveCapacity(catalog.sensors.count)
        for (j, s) in catalog.sensors.enumerated() {
            let a = assetIndex[s.asset] ?? {
                assetIndex[s.asset] = members.count
                members.append([])
                return members.count - 1
            }()
            members[a].append(Int32(j))
            assetOf.append(Int32(a))
        }
        for (i, sensor) in catalog.sensors.enumerated() {
            var track = SensorTrack(settings: SensorSettings(sensor: sensor))
            var partners: [Int] = []
            for other in sensor.related {
                if let j = catalog.index(of: other), j != i, !partners.contains(j) { partners.append(j) }
            }
            track.partnerCount = min(partners.count, SensorTrack.maxPartners)
            if track.partnerCount > 0 { track.allocatePairs() }
            for p in 0..<track.partnerCount { track.partners[p] = Int32(partners[p]) }
            if !partners.isEmpty { relatedOf[i] = partners }
            tracks.append(track)
        }
        self.tracks = tracks
        self.relatedOf = relatedOf
        assetMembers = members
        self.assetOf = assetOf
        discoveries = Self.discoveryGroups(catalog: catalog, tracks: tracks)
        var group = [Int32](repeating: -1, count: tracks.count), slot = [Int32](repeating: -1, count: tracks.count)
        for (g, d) in discoveries.enumerated() {
            for (k, i) in d.members.enumerated() { group[i] = Int32(g); slot[i] = Int32(k) }
        }
        discoveryGroup = group
        discoverySlot = slot
        // One instance each: `Array(repeating:)` would share the ring buffers, and the first write would copy them.
        eventTracks = (0..<catalog.sensors.count).map { _ in EventTrack() }
        silenceQueue = SilenceQueue(count: catalog.sensors.count)
    }

    /// The events open now (an opened message updated with the peak so far).
    public var openEvents: [AnomalyEvent] {
        eventTracks.compactMap { track in
            guard var e = track.opened else { return nil }
            e.peak = track.peak
            e.deviation = track.peak - track.baseline
            e.score = max(e.score, track.peakScore)
            return e
        }
    }

    /// Whether any sensor has an event open (or a spike candidate waiting for its next reading).
    public var anyAbnormal: Bool {
        for track in eventTracks where track.isOpen || track.pending { return true }
        return false
    }

    /// Whether the sensor at this catalog index has an event open or pending.
    public func isAbnormal(sensor i: Int) -> Bool {
        i >= 0 && i < eventTracks.count && (eventTracks[i].isOpen || eventTracks[i].pending)
    }

    /// The season of the sensor at this catalog index, in seconds: configured in the catalog, or found in its
    /// readings when none is configured; nil while there is none.
    public func seasonSeconds(sensor i: Int) -> Double? {
        guard i >= 0, i < tracks.count, tracks[i].settings.seasonalOn else { return nil }
        return tracks[i].settings.seasonMs / 1000
    }

    /// Whether the sensor's season was found in its readings (rather than configured).
    public func isSeasonDetected(sensor i: Int) -> Bool {
        i >= 0 && i < tracks.count && tracks[i].seasonFoundMs > 0
    }

    /// One reading of the sensor at catalog index `sensor`. Returns the fused anomaly score in [0, 1].
    /// Events that open or resolve are appended to `events` (caller-owned buffer; no allocation otherwise).
    /// Readings of an unknown index and non-finite values are ignored (score 0).
    public func ingest(sensor i: Int, timestamp t: Int64, value x: Double, events: inout [AnomalyEvent]) -> Double {
        guard i >= 0, i < tracks.count, x.isFinite else { return 0 }
        // An exact repeat of the last reading (same time, same value) is a redelivery, not a new reading.
        if tracks[i].count > 0, t == tracks[i].lastT, x == tracks[i].lastX { return 0 }
        defer { scheduleSilenceCheck(i) }
        eventTracks[i].heardAt = max(clock, t)
        eventTracks[i].latestT = tracks[i].count > 0 ? max(eventTracks[i].latestT, t) : t

        var partnerValues = PartnerValues()
        let partnerCount = tracks[i].partnerCount
        if partnerCount > 0 {
            let myInterval = tracks[i].interval
            for p in 0..<partnerCount {
                let j = Int(tracks[i].partners[p])
                guard tracks[j].count > 0 else { continue }
                let horizon = 3 * max(tracks[j].interval, myInterval, 1)
                if Double(t &- tracks[j].lastT) <= horizon {
                    partnerValues.values[p] = tracks[j].lastX
                    partnerValues.fresh[p] = 1
                }
            }
        }

        if eventTracks[i].opened?.kind == .silence { resolve(i, end: t, events: &events) }

        let abnormal = eventTracks[i].isOpen || eventTracks[i].pending
        let o = tracks[i].observe(
            t: t, x: x, abnormal: abnormal, closeThreshold: configuration.closeThreshold,
            configuration: configuration, partnerValues: partnerValues)
        eventTracks[i].remember(t: t, x: x)
        let g = Int(discoveryGroup[i])
        if g >= 0, !discoveries[g].done { discover(g, slot: Int(discoverySlot[i]), sensor: i, t: t, x: x) }
        if !tracks[i].warm {
            // Engineering limits need no learned baseline: a breach counts even during warm-up, and the event it
            // opened resolves by the same rules as later (the other detectors stay silent meanwhile).
            guard o.dominant == .limits || eventTracks[i].isOpen else { return 0 }
            var limitsOnly = o
            if o.dominant != .limits { limitsOnly.score = 0; limitsOnly.dominant = .none }
            assemble(i, t: t, x: x, limitsOnly, events: &events)
            return limitsOnly.score
        }
        assemble(i, t: t, x: x, o, events: &events)
        return o.score
    }

    /// The clock moved to `now` (ms): silence detection (no reading for `silencePeriods` sample periods).
    /// Checks only the sensors whose silence may be due by now; events come in catalog order.
    public func advance(to now: Int64, events: inout [AnomalyEvent]) {
        if now > clock { clock = now }
        // Far from the epoch the clock arithmetic may wrap: there every sensor is checked, as it always was.
        guard now > -Self.clockRange, now < Self.clockRange else {
            for i in tracks.indices where isSilent(i, now: now) { reportSilence(i, now: now, events: &events) }
            return
        }
        guard silenceQueue.first <= now else { return }
        silent.removeAll(keepingCapacity: true)
        while silenceQueue.first <= now {
            let i = silenceQueue.removeFirst()
            if isSilent(i, now: now) {
                silent.append(i)
            } else if let time = silenceCheckTime(i) {
                // Not silent at `now`, so not before `now + 1` either (unless a reading schedules it again).
                silenceQueue.schedule(i, at: max(time, now + 1))
            }
        }
        guard !silent.isEmpty else { return }
        if silent.count > 1 { silent.sort() }
        for i in silent { reportSilence(i, now: now, events: &events) }
    }

    /// |clock| below this (ms, about 146 million years): differences of two such times cannot overflow.
    static let clockRange: Int64 = 1 << 62

    /// The silence limit of sensor `i` (ms): `silencePeriods` sample periods (or learned intervals), at least
    /// `minimumSilenceSeconds`.
    @inline(__always)
    func silenceLimit(_ i: Int) -> Double {
        let period = tracks[i].settings.periodMs > 0 ? tracks[i].settings.periodMs : tracks[i].interval
        return max(configuration.silencePeriods * period, configuration.minimumSilenceSeconds * 1000)
    }

    /// Whether sensor `i` is due a silence event at `now`. Silence is judged on when the sensor was last heard,
    /// not on its readings' timestamps.
    @inline(__always)
    func isSilent(_ i: Int, now: Int64) -> Bool {
        guard tracks[i].settings.silenceOn, tracks[i].warm, eventTracks[i].opened?.kind != .silence,
              tracks[i].count > 0
        else { return false }
        return Double(now &- eventTracks[i].heardAt) > silenceLimit(i)
    }

    /// The earliest clock time at which `isSilent(i, now:)` can hold (a lower bound, exact for |now| below
    /// `clockRange`), or nil when it cannot until the sensor's state changes (silence off, warming up, never heard,
    /// silent already).
    @inline(__always)
    func silenceCheckTime(_ i: Int) -> Int64? {
        guard tracks[i].settings.silenceOn, tracks[i].warm, eventTracks[i].opened?.kind != .silence,
              tracks[i].count > 0
        else { return nil }
        let limit = silenceLimit(i)
        if limit.isNaN || limit == .infinity { return nil }
        let heard = eventTracks[i].heardAt
        // Below 2^52 the limit and a difference that exceeds it convert exactly enough: Double(d) > limit
        // implies d >= floor(limit). Anything stranger is checked at every advance.
        guard limit >= 0, limit < 0x1p52, heard > -Self.clockRange, heard < Self.clockRange else { return .min }
        return heard + Int64(limit.rounded(.down))
    }

    /// Puts sensor `i` on the silence queue after its state changed (a reading, a restored state).
    @inline(__always)
    func scheduleSilenceCheck(_ i: Int) {
        if let time = silenceCheckTime(i) { silenceQueue.schedule(i, at: time) }
    }

    /// Opens the silence event of sensor `i` (resolving the event it had open).
    func reportSilence(_ i: Int, now: Int64, events: inout [AnomalyEvent]) {
        let last = eventTracks[i].latestT
        let x = tracks[i].lastX
        if eventTracks[i].isOpen { resolve(i, end: last, events: &events) }
        eventTracks[i].pending = false
        open(i, kind: .silence, start: last, detectedAt: now, x: x, score: 1, events: &events)
    }

    // MARK: - Event assembly

    @inline(__always)
    func assemble(_ i: Int, t: Int64, x: Double, _ o: Observation, events: inout [AnomalyEvent]) {
        let c = configuration
        let score = o.score
        let count = tracks[i].count

        // Track the run of elevated scores: it dates the start of an event.
        if score >= c.closeThreshold {
            if !eventTracks[i].elevated {
                eventTracks[i].elevated = true
                eventTracks[i].elevatedSince = t
                eventTracks[i].elevatedLevelZ = 0
            }
            eventTracks[i].elevatedLevelZ = max(eventTracks[i].elevatedLevelZ, abs(o.levelZ))
        } else {
            eventTracks[i].elevated = false
        }

        let s = tracks[i].settings
        if o.dominant == .limits {
            if eventTracks[i].breachSince == .min { eventTracks[i].breachSince = t }
        } else {
            eventTracks[i].breachSince = .min
        }
        if o.dominant == .limits, !(eventTracks[i].isOpen && eventTracks[i].kind == .outOfRange) {
            // Engineering limits are never suppressed: a limit crossed during another event, while a spike
            // candidate waits, or in the cooldown after an event is its own, critical alarm. Only an on-delay the
            // catalog sets holds it back, until the breach has lasted that long; it then starts where the breach did.
            let since = eventTracks[i].breachSince
            if Double(t &- since) >= s.onDelayMs {
                if eventTracks[i].isOpen { resolve(i, end: t, events: &events) }
                eventTracks[i].pending = false
                eventTracks[i].cooldownUntil = 0
                open(i, kind: .outOfRange, start: since, detectedAt: t, x: x, score: score, events: &events)
                return
            }
            guard eventTracks[i].isOpen else { return }
        }

        if eventTracks[i].isOpen {
            eventTracks[i].recordDuring(t: t, x: x)
            let baseline = eventTracks[i].baseline
            if abs(x - baseline) > abs(eventTracks[i].peak - baseline) { eventTracks[i].peak = x }
            if score > eventTracks[i].peakScore { eventTracks[i].peakScore = score }
            if !eventTracks[i].relearned, count - eventTracks[i].openedCount >= c.relearnReadings {
                eventTracks[i].relearned = true
                tracks[i].acceptPresentLevel()
            }
            // A level that came back to where it was before the event is quiet, whatever the window statistics
            // still say about the way back (they compare with windows the event itself filled).
            // A limit alert stays while the reading is within the deadband of the limit it crossed.
            let inDeadband = eventTracks[i].kind == .outOfRange && s.limitsOn && (x > s.high - s.deadband || x < s.low + s.deadband)
            if inDeadband || score >= c.closeThreshold && !tracks[i].isBack(at: baseline, kind: eventTracks[i].kind) {
                eventTracks[i].lastAboveCount = count
                eventTracks[i].lastAboveT = t
            } else if count - eventTracks[i].lastAboveCount >= c.quietReadings,
                      Double(t &- eventTracks[i].lastAboveT) >= offDelayMs(i), t >= eventTracks[i].latchedUntil {
                resolve(i, end: t, events: &events)
            }
            return
        }

        if eventTracks[i].pending {
            // A lone outlier returns at once; a shift stays away on the same side.
            eventTracks[i].pending = false
            let side = eventTracks[i].pendingX - eventTracks[i].pendingBaseline
            let stayed = score >= c.closeThreshold && (x - eventTracks[i].pendingBaseline) * side > 0
            let pendingT = eventTracks[i].pendingT
            if stayed {
                let kind: AnomalyKind = o.dominant == .volatilityShift ? .volatilityShift : .levelShift
                open(i, kind: kind, start: pendingT, detectedAt: t, x: x, score: max(score, eventTracks[i].pendingScore),
                     events: &events)
                eventTracks[i].recordDuring(t: t, x: x)
                return
            }
            open(i, kind: side >= 0 ? .spike : .dip, start: pendingT, detectedAt: pendingT,
                 x: eventTracks[i].pendingX, score: eventTracks[i].pendingScore, events: &events)
            eventTracks[i].recordDuring(t: t, x: x)
            eventTracks[i].lastAboveCount = count - 1
            return
        }

        guard score >= c.openThreshold, count >= eventTracks[i].cooldownUntil else { return }
        // On-delay: the scores must have stayed elevated that long (a lone outlier never does).
        guard s.onDelayMs == 0 || eventTracks[i].elevated && Double(t &- eventTracks[i].elevatedSince) >= s.onDelayMs
        else { return }
        switch o.dominant {
        case .spike:
            eventTracks[i].pending = true
            eventTracks[i].pendingT = t
            eventTracks[i].pendingX = x
            eventTracks[i].pendingScore = score
            eventTracks[i].pendingBaseline = tracks[i].mean
        default:
            let kind = anomalyKind(i, o, x: x)
            let start: Int64
            switch kind {
            case .stuck: start = tracks[i].runStart
            case .outOfRange: start = t
            default: start = eventTracks[i].elevatedSince
            }
            open(i, kind: kind, start: min(start, t), detectedAt: t, x: x, score: score, events: &events)
        }
    }

    /// How long sensor `i` must have been normal before its open alert clears (ms): the quiet time or the
    /// sensor's off-delay, whichever is longer.
    @inline(__always)
    func offDelayMs(_ i: Int) -> Double { max(configuration.quietSeconds * 1000, tracks[i].settings.offDelayMs) }

    /// The sensors an event of sensor `i` describes alongside: its related sensors, then the rest of its asset.
    func describedWith(_ i: Int) -> [Int] {
        var list = relatedOf[i] ?? []
        for m in assetMembers[Int(assetOf[i])] where Int(m) != i && !list.contains(Int(m)) { list.append(Int(m)) }
        return list
    }

    func anomalyKind(_ i: Int, _ o: Observation, x: Double) -> AnomalyKind {
        switch o.dominant {
        case .limits: return .outOfRange
        case .levelShift: return .levelShift
        case .drift:
            return eventTracks[i].elevatedLevelZ >= 0.6 * abs(o.driftZ) ? .levelShift : .drift
        case .volatilityShift: return .volatilityShift
        case .stuck: return .stuck
        case .seasonal: return .seasonal
        case .correlation: return .correlationBreak
        case .spike: return x >= tracks[i].mean ? .spike : .dip
        case .silence: return .silence
        case .none: return .levelShift
        }
    }

    func open(_ i: Int, kind: AnomalyKind, start: Int64, detectedAt: Int64, x: Double, score: Double,
              events: inout [AnomalyEvent]) {
        let track = tracks[i]
        let baseline = track.mean
        let s = track.settings
        var limit: Double?
        if kind == .outOfRange { limit = x > s.high ? s.high : s.low }
        let severity: Severity = kind == .outOfRange || score >= configuration.criticalScore ? .critical : .warning
        let related = describedWith(i).map { j -> RelatedDeviation in
            let other = tracks[j]
            let deviation = other.count > 0 ? other.lastX - other.mean : 0
            return RelatedDeviation(sensor: sensorIDs[j], value: other.lastX, baseline: other.mean,
                                    deviation: deviation, score: other.count > 0 ? deviation / other.sigma : 0)
        }
        var id = "\(sensorIDs[i].rawValue):\(kind.rawValue):\(start)"
        if id == eventTracks[i].lastID {
            eventTracks[i].idRepeat += 1
            id += "-\(eventTracks[i].idRepeat + 1)"
        } else {
            eventTracks[i].lastID = id
            eventTracks[i].idRepeat = 0
        }
        let event = AnomalyEvent(
            id: id, stage: .opened, sensor: sensorIDs[i],
            asset: assetIDs[i], kind: kind, severity: severity, score: score, start: start, end: nil,
            detectedAt: detectedAt, baseline: baseline, peak: x, deviation: x - baseline,
            duration: Double(detectedAt &- start) / 1000, limit: limit, related: related,
            window: downsample(eventTracks[i].history(limit: configuration.windowPoints), limit: configuration.windowPoints))
        eventTracks[i].opened = event
        eventTracks[i].kind = kind
        eventTracks[i].start = start
        eventTracks[i].baseline = baseline
        eventTracks[i].peak = x
        eventTracks[i].peakScore = score
        eventTracks[i].lastAboveCount = track.count
        eventTracks[i].lastAboveT = detectedAt
        eventTracks[i].openedCount = track.count
        eventTracks[i].relearned = false
        eventTracks[i].latchedUntil = eventTracks[i].recordOpening(at: detectedAt, count: s.chatterCount, windowMs: s.chatterWindowMs)
        eventTracks[i].resetDuring()
        events.append(event)
    }

    func resolve(_ i: Int, end: Int64, events: inout [AnomalyEvent]) {
        guard var event = eventTracks[i].opened else { return }
        event.stage = .resolved
        event.end = end
        event.detectedAt = end
        event.peak = eventTracks[i].peak
        event.deviation = event.peak - event.baseline
        event.score = max(event.score, eventTracks[i].peakScore)
        if event.score >= configuration.criticalScore { event.severity = .critical }
        event.duration = Double(end &- event.start) / 1000
        let before = event.window
        let during = eventTracks[i].during()
        let budget = configuration.windowPoints
        if before.count + during.count <= budget {
            event.window = before + during
        } else {
            let keepBefore = min(before.count, budget / 2)
            event.window = Array(before.suffix(keepBefore)) + downsample(during, limit: budget - keepBefore)
        }
        events.append(event)
        if tracks[i].isBack(at: eventTracks[i].baseline, kind: eventTracks[i].kind) {
            // Back to normal: what the baselines learned during the event was the event, not the normal.
            tracks[i].returnToBaseline(eventTracks[i].baseline)
        }
        eventTracks[i].opened = nil
        eventTracks[i].pending = false
        eventTracks[i].elevated = false
        eventTracks[i].cooldownUntil = tracks[i].count + configuration.cooldownReadings
        eventTracks[i].resetDuring()
    }
}
