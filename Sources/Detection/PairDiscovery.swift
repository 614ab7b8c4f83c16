import Telemetry

/// Finds, during the warm-up, the sensors of an asset that move together, when the catalog relates none of them:
/// they become partners of the relationship-break (correlation) detector, as if the catalog had listed them.
///
/// Candidates: the first `maximumMembers` sensors of the asset whose correlation detector is on (at most 28
/// pairs). Each reading of a member updates, for every other member with a fresh value, the pair's running
/// means, variances and covariance (exact equal weights). When every member is warm (or the reading member has
/// seen four warm-ups, should another never report), the pairs with at least `minimumSamples` and a correlation
/// of at least both sensors' `min_correlation` become partners, strongest first: at most `maximumPairs` per
/// asset and `SensorTrack.maxPartners` per sensor. Their statistics seed the detector's regression, so it
/// scores at once. Then the candidates' memory is released: per reading after that, nothing.
///
/// Work per reading of a member during the search: at most 7 pair updates (a dozen operations each); once, at
/// the decision, 28 correlations and a sort of at most 28. State: 6 doubles per candidate pair (at most 1.3 KiB
/// per asset), only until the decision.
struct PairDiscovery {
    static let maximumMembers = 8
    static let maximumPairs = 4
    static let minimumSamples = 50
    static let stride = 6

    /// Catalog indices of the candidates.
    let members: [Int]
    /// Per pair `a < b` (triangular order): count, mean a, mean b, variance a, variance b, covariance.
    var stats: ContiguousArray<Double>
    var done = false

    init(members: [Int]) {
        self.members = members
        let m = members.count
        stats = ContiguousArray(repeating: 0, count: m * (m - 1) / 2 * Self.stride)
    }

    var pairCount: Int { members.count * (members.count - 1) / 2 }

    /// Index of the pair of member slots `a < b` in triangular order.
    @inline(__always)
    func pair(_ a: Int, _ b: Int) -> Int {
        let m = members.count
        return a * (2 * m - a - 1) / 2 + (b - a - 1)
    }

    /// One simultaneous observation of members `a < b`.
    @inline(__always)
    mutating func observe(_ a: Int, _ b: Int, _ x: Double, _ y: Double) {
        let s = pair(a, b) * Self.stride
        let n = stats[s] + 1
        stats[s] = n
        let k = 1 / n
        let dx = x - stats[s + 1], dy = y - stats[s + 2]
        stats[s + 1] += k * dx
        stats[s + 2] += k * dy
        stats[s + 3] += k * ((1 - k) * dx * dx - stats[s + 3])
        stats[s + 4] += k * ((1 - k) * dy * dy - stats[s + 4])
        stats[s + 5] += k * ((1 - k) * dx * dy - stats[s + 5])
    }

    /// The pairs that move together, strongest first: (slot a, slot b, correlation).
    func strongPairs(minimumCorrelation: (Int, Int) -> Double) -> [(a: Int, b: Int, r: Double)] {
        var found: [(a: Int, b: Int, r: Double)] = []
        let m = members.count
        for a in 0..<m {
            for b in (a + 1)..<m {
                let s = pair(a, b) * Self.stride
                let n = stats[s], va = stats[s + 3], vb = stats[s + 4], cov = stats[s + 5]
                guard n >= Double(Self.minimumSamples), va > 0, vb > 0 else { continue }
                let r = cov / (va * vb).squareRoot()
                guard r.isFinite, abs(r) >= minimumCorrelation(a, b) else { continue }
                found.append((a, b, r))
            }
        }
        return found.sorted { abs($0.r) > abs($1.r) }
    }
}

extension PlantDetector {
    /// Groups for the assets whose sensors the catalog relates to none: the candidates of each.
    static func discoveryGroups(catalog: Catalog, tracks: [SensorTrack]) -> [PairDiscovery] {
        var groups: [PairDiscovery] = []
        // The sensors of each asset in one pass, assets in order of first appearance (a scan of
        // every sensor per asset was quadratic on a large catalog).
        var order: [String] = []
        var byAsset: [String: [Int]] = [:]
        for (i, s) in catalog.sensors.enumerated() {
            if byAsset[s.asset] == nil { order.append(s.asset) }
            byAsset[s.asset, default: []].append(i)
        }
        for asset in order {
            let onAsset = byAsset[asset] ?? []
            // Relations named in the catalog (in either direction) take precedence over discovery.
            guard !onAsset.contains(where: { !catalog.sensors[$0].related.isEmpty || tracks[$0].partnerCount > 0 })
            else { continue }
            let members = onAsset.filter { tracks[$0].settings.correlationOn }.prefix(PairDiscovery.maximumMembers)
            guard members.count >= 2 else { continue }
            groups.append(PairDiscovery(members: Array(members)))
        }
        return groups
    }

    /// A reading of member `slot` of discovery group `g`: pair updates, and the decision once the asset is warm.
    @inline(__always)
    func discover(_ g: Int, slot a: Int, sensor i: Int, t: Int64, x: Double) {
        let members = discoveries[g].members
        let myInterval = tracks[i].interval
        for b in members.indices where b != a {
            let j = members[b]
            guard tracks[j].count > 0 else { continue }
            let horizon = 3 * max(tracks[j].interval, myInterval, 1)
            guard Double(t &- tracks[j].lastT) <= horizon else { continue }
            if a < b {
                discoveries[g].observe(a, b, x, tracks[j].lastX)
            } else {
                discoveries[g].observe(b, a, tracks[j].lastX, x)
            }
        }
        var allWarm = true
        for j in members where !tracks[j].warm { allWarm = false; break }
        if allWarm || tracks[i].count >= 4 * configuration.warmUpReadings { decidePairs(g) }
    }

    /// Makes the strongest pairs of group `g` partners of each other, seeded with their statistics.
    func decidePairs(_ g: Int) {
        let group = discoveries[g]
        let members = group.members
        let strong = group.strongPairs { a, b in
            max(self.tracks[members[a]].settings.minimumCorrelation, self.tracks[members[b]].settings.minimumCorrelation)
        }
        var chosen = 0
        for (a, b, _) in strong where chosen < PairDiscovery.maximumPairs {
            let i = members[a], j = members[b]
            guard tracks[i].partnerCount < SensorTrack.maxPartners, tracks[j].partnerCount < SensorTrack.maxPartners
            else { continue }
            let s = group.pair(a, b) * PairDiscovery.stride
            let n = group.stats[s], ma = group.stats[s + 1], mb = group.stats[s + 2]
            let va = group.stats[s + 3], vb = group.stats[s + 4], cov = group.stats[s + 5]
            tracks[i].addPartner(j, meanSelf: ma, meanOther: mb, varianceSelf: va, varianceOther: vb, covariance: cov, count: n)
            tracks[j].addPartner(i, meanSelf: mb, meanOther: ma, varianceSelf: vb, varianceOther: va, covariance: cov, count: n)
            chosen += 1
        }
        discoveries[g].done = true
        discoveries[g].stats = []
    }

    /// The partners of the sensor at this catalog index (catalog `related`, or discovered during the warm-up).
    public func partners(sensor i: Int) -> [SensorID] {
        guard i >= 0, i < tracks.count else { return [] }
        return (0..<tracks[i].partnerCount).map { sensorIDs[Int(tracks[i].partners[$0])] }
    }
}

extension SensorTrack {
    /// Adds a related sensor whose regression starts from statistics learned elsewhere.
    mutating func addPartner(_ j: Int, meanSelf: Double, meanOther: Double, varianceSelf: Double,
                             varianceOther: Double, covariance: Double, count n: Double) {
        guard partnerCount < Self.maxPartners else { return }
        let p = partnerCount
        allocatePairs()
        partners[p] = Int32(j)
        partnerCount += 1
        pairs[p] = PairStatistics(
            meanSelf: meanSelf, meanOther: meanOther, varianceSelf: varianceSelf, varianceOther: varianceOther,
            covariance: covariance,
            residualVariance: max(varianceSelf - covariance * covariance / varianceOther, 1e-12 * varianceSelf), count: n)
    }
}
