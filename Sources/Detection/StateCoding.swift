import Foundation
import Telemetry

/// Visits every field of the detector state once, to write it or to read it back (one field list for both).
protocol StateCoder {
    mutating func code(_ x: inout Double) throws
    mutating func code(_ x: inout Int) throws
    mutating func code(_ x: inout Int64) throws
    mutating func code(_ x: inout Bool) throws
    /// Fixed-capacity buffers: the count must match the one the catalog gives.
    mutating func code(_ x: inout ContiguousArray<Double>) throws
    mutating func code(_ x: inout ContiguousArray<Int64>) throws
    mutating func code(_ x: inout AnomalyEvent?) throws
    mutating func code(_ x: inout String) throws
}

struct StateWriter: StateCoder {
    var bytes: [UInt8] = []

    mutating func raw(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func code(_ x: inout Double) { raw(x.bitPattern) }
    mutating func code(_ x: inout Int) { raw(UInt64(bitPattern: Int64(x))) }
    mutating func code(_ x: inout Int64) { raw(UInt64(bitPattern: x)) }
    mutating func code(_ x: inout Bool) { bytes.append(x ? 1 : 0) }
    mutating func code(_ x: inout ContiguousArray<Double>) {
        raw(UInt64(x.count))
        for v in x { raw(v.bitPattern) }
    }
    mutating func code(_ x: inout ContiguousArray<Int64>) {
        raw(UInt64(x.count))
        for v in x { raw(UInt64(bitPattern: v)) }
    }
    mutating func code(_ x: inout AnomalyEvent?) throws {
        guard let event = x else { raw(0); return }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let json = try encoder.encode(event)
        raw(UInt64(json.count))
        bytes.append(contentsOf: json)
    }
}

extension StateWriter {
    mutating func code(_ x: inout String) {
        let utf8 = Array(x.utf8)
        raw(UInt64(utf8.count))
        bytes.append(contentsOf: utf8)
    }
}

extension StateReader {
    mutating func code(_ x: inout String) throws {
        let count = try raw()
        guard count <= UInt64(bytes.count - offset) else { throw Self.corrupt("a text longer than the state") }
        x = String(decoding: bytes[offset..<(offset + Int(count))], as: UTF8.self)
        offset += Int(count)
    }
}

struct StateReader: StateCoder {
    let bytes: [UInt8]
    var offset = 0

    init(bytes: [UInt8]) { self.bytes = bytes }

    static func corrupt(_ what: String) -> DetectionError {
        DetectionError(.invalidState, "the saved detector state is corrupt (\(what))")
    }

    mutating func raw() throws -> UInt64 {
        guard offset + 8 <= bytes.count else { throw Self.corrupt("truncated at byte \(offset)") }
        var v: UInt64 = 0
        for k in 0..<8 { v |= UInt64(bytes[offset + k]) << (8 * UInt64(k)) }
        offset += 8
        return v
    }

    mutating func code(_ x: inout Double) throws {
        let v = Double(bitPattern: try raw())
        x = v
    }
    mutating func code(_ x: inout Int) throws {
        let v = Int64(bitPattern: try raw())
        guard v >= Int64(Int.min), v <= Int64(Int.max) else { throw Self.corrupt("integer out of range") }
        x = Int(v)
    }
    mutating func code(_ x: inout Int64) throws { x = Int64(bitPattern: try raw()) }
    mutating func code(_ x: inout Bool) throws {
        guard offset < bytes.count else { throw Self.corrupt("truncated at byte \(offset)") }
        guard bytes[offset] <= 1 else { throw Self.corrupt("flag out of range at byte \(offset)") }
        x = bytes[offset] == 1
        offset += 1
    }
    mutating func code(_ x: inout ContiguousArray<Double>) throws {
        guard try raw() == UInt64(x.count) else { throw Self.corrupt("a buffer of another size") }
        for k in x.indices { x[k] = Double(bitPattern: try raw()) }
    }
    mutating func code(_ x: inout ContiguousArray<Int64>) throws {
        guard try raw() == UInt64(x.count) else { throw Self.corrupt("a buffer of another size") }
        for k in x.indices { x[k] = Int64(bitPattern: try raw()) }
    }
    mutating func code(_ x: inout AnomalyEvent?) throws {
        let count = try raw()
        guard count > 0 else { x = nil; return }
        guard count <= UInt64(bytes.count - offset) else { throw Self.corrupt("an event longer than the state") }
        let json = Data(bytes[offset..<(offset + Int(count))])
        offset += Int(count)
        do { x = try JSONDecoder().decode(AnomalyEvent.self, from: json) } catch { throw Self.corrupt("an unreadable open event") }
    }
}

extension Calibration {
    mutating func code<C: StateCoder>(_ c: inout C) throws {
        try c.code(&moment)
        try c.code(&q99)
        try c.code(&q999)
    }
}

extension ModeMemory {
    mutating func code<C: StateCoder>(_ c: inout C) throws {
        for k in 0..<Self.capacity {
            try c.code(&center[k]); try c.code(&spread[k]); try c.code(&weight[k]); try c.code(&dwell[k])
        }
        try c.code(&current); try c.code(&stay)
        guard current >= -1, current < Self.capacity else { throw StateReader.corrupt("a mode out of range") }
    }
}

extension SeasonSearch {
    mutating func code<C: StateCoder>(_ c: inout C) throws {
        try c.code(&block); try c.code(&blockSum); try c.code(&blockCount); try c.code(&count)
        try c.code(&lag); try c.code(&sweptBlock); try c.code(&previous); try c.code(&beforePrevious)
        try c.code(&lowest); try c.code(&bestLag); try c.code(&best); try c.code(&bestLeft); try c.code(&bestRight)
        try c.code(&candidate); try c.code(&candidateLag); try c.code(&exhausted)
        try c.code(&step)
        guard block >= 1, block <= Self.maximumBlock, blockCount >= 0, blockCount < block, count >= 0,
              lag >= 0, lag <= Self.maximumLag + 1, bestLag >= 0, bestLag <= Self.maximumLag
        else { throw StateReader.corrupt("a season search position out of range") }
    }
}

extension SensorTrack {
    /// Every learned field; settings and partners come from the catalog and are not saved.
    mutating func code<C: StateCoder>(_ c: inout C) throws {
        try c.code(&count); try c.code(&lastT); try c.code(&lastX); try c.code(&interval)
        try c.code(&firstT); try c.code(&warm)
        try c.code(&level); try c.code(&innovation)
        try c.code(&mean); try c.code(&spread); try c.code(&baselineCount)
        try c.code(&values); try c.code(&valuesHead); try c.code(&valuesCount)
        try c.code(&recentSum); try c.code(&referenceSum)
        try c.code(&diffs); try c.code(&diffsHead); try c.code(&diffsCount); try c.code(&diffSum); try c.code(&meanDiff)
        try c.code(&run); try c.code(&runStart); try c.code(&stayRate); try c.code(&stayCount); try c.code(&repeatRate)
        try c.code(&calibrationCount)
        try calSpike.code(&c); try calLevel.code(&c); try calVolatility.code(&c)
        try calDrift.code(&c); try calSeasonal.code(&c); try calCorrelation.code(&c)
        try c.code(&season); try c.code(&seasonVisited); try c.code(&seasonSpread); try c.code(&seasonLearned)
        try seasonSearch.code(&c); try c.code(&seasonFoundMs); try c.code(&seasonFoundBins)
        // Saved as one buffer of doubles (its length, then each pair's fields): always all four slots, the
        // untouched ones of a sensor without partners included, so the layout does not depend on them.
        var slots = pairs.isEmpty ? ContiguousArray(repeating: PairStatistics(), count: Self.maxPartners) : pairs
        var length = slots.count * PairStatistics.fieldCount
        try c.code(&length)
        guard length == slots.count * PairStatistics.fieldCount else { throw StateReader.corrupt("a buffer of another size") }
        for k in slots.indices { try slots[k].code(&c) }
        try modes.code(&c)
        try c.code(&partnerCount)
        for k in 0..<Self.maxPartners {
            var v = Int(partners[k])
            try c.code(&v)
            partners[k] = Int32(truncatingIfNeeded: v)
        }
        pairs = partnerCount > 0 ? slots : []
        guard partnerCount >= 0, partnerCount <= Self.maxPartners else { throw StateReader.corrupt("a partner count out of range") }
        guard valuesHead >= 0, valuesHead < max(values.count, 1), valuesCount >= 0, valuesCount <= values.count,
              diffsHead >= 0, diffsHead < max(diffs.count, 1), diffsCount >= 0, diffsCount <= diffs.count,
              count >= 0, run >= 0, seasonVisited >= 0, seasonVisited <= season.count
        else { throw StateReader.corrupt("a ring position out of range") }
        guard seasonSearch.count < max(season.count, 1) else { throw StateReader.corrupt("a season search window overflow") }
        if seasonFoundMs != 0 {
            // Only a sensor that searches has room for a found season.
            guard settings.seasonSearch, seasonFoundMs >= 4, seasonFoundMs <= 3.2e11, seasonFoundBins >= 4,
                  seasonFoundBins <= season.count, seasonVisited <= seasonFoundBins
            else { throw StateReader.corrupt("a detected season out of range") }
            applyFoundSeason()
        }
    }
}

extension PairDiscovery {
    mutating func code<C: StateCoder>(_ c: inout C) throws {
        try c.code(&done)
        if done {
            stats = []
        } else {
            let size = pairCount * Self.stride
            if stats.count != size { stats = ContiguousArray(repeating: 0, count: size) }
            try c.code(&stats)
        }
    }
}

extension EventTrack {
    mutating func code<C: StateCoder>(_ c: inout C) throws {
        try c.code(&opened)
        var kindIndex = AnomalyKind.allCases.firstIndex(of: kind) ?? 0
        try c.code(&kindIndex)
        guard AnomalyKind.allCases.indices.contains(kindIndex) else { throw StateReader.corrupt("an unknown event kind") }
        kind = AnomalyKind.allCases[kindIndex]
        try c.code(&start); try c.code(&baseline); try c.code(&peak); try c.code(&peakScore)
        try c.code(&lastAboveCount); try c.code(&lastAboveT); try c.code(&cooldownUntil)
        try c.code(&openedCount); try c.code(&relearned)
        try c.code(&idRepeat); try c.code(&lastID)
        try c.code(&pending); try c.code(&pendingT); try c.code(&pendingX); try c.code(&pendingScore)
        try c.code(&pendingBaseline)
        try c.code(&elevated); try c.code(&elevatedSince); try c.code(&elevatedLevelZ)
        try c.code(&historyT); try c.code(&historyV); try c.code(&historyHead); try c.code(&historyCount)
        // Written at full capacity whether allocated or not, so the file's layout does not change.
        if duringT.isEmpty { (duringT, duringV) = (Self.idleDuringT, Self.idleDuringV) }
        try c.code(&duringT); try c.code(&duringV); try c.code(&duringCount); try c.code(&duringStride)
        try c.code(&duringSkip)
        try c.code(&heardAt); try c.code(&latestT)
        guard historyHead >= 0, historyHead < Self.historyCapacity, historyCount >= 0,
              historyCount <= Self.historyCapacity, duringCount >= 0, duringCount <= Self.duringCapacity,
              duringStride >= 1, duringStride < 1 << 40, duringSkip >= 0
        else { throw StateReader.corrupt("an event window position out of range") }
        releaseDuring()
    }
}

extension PlantDetector {
    /// Version of the state layout; a state of another version is refused.
    /// 2: seasons found in the data and discovered sensor pairs (version 1 states are refused: warm up afresh).
    /// 3: when each sensor was last heard, and the alarm-management state of its events.
    public static let stateVersion: UInt32 = 3
    static let stateMagic: [UInt8] = Array("VGDS".utf8)

    /// FNV-1a 64 of the state's bytes, stored after them.
    static func checksum(_ bytes: ArraySlice<UInt8>) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        return hash
    }

    /// A fingerprint of everything in the catalog that shapes the state (sensors, periods, detector tuning).
    public static func fingerprint(of catalog: Catalog) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        func mix(_ text: String) {
            for byte in text.utf8 {
                hash ^= UInt64(byte)
                hash = hash &* 0x0000_0100_0000_01B3
            }
            hash ^= 0xFF
            hash = hash &* 0x0000_0100_0000_01B3
        }
        for sensor in catalog.sensors {
            mix(sensor.id.rawValue); mix(sensor.asset); mix(String(sensor.samplePeriod))
            mix(String(describing: sensor.limits.low)); mix(String(describing: sensor.limits.high))
            for r in sensor.related { mix(r.rawValue) }
            for name in sensor.detectors.keys.sorted() {
                guard let tuning = sensor.detectors[name] else { continue }
                mix(name); mix(String(tuning.enabled))
                for key in tuning.parameters.keys.sorted() { mix(key); mix(String(tuning.parameters[key] ?? 0)) }
            }
        }
        return hash
    }

    /// The learned state of every sensor and the events open now: magic, version, catalog fingerprint, data.
    public func saveState() -> [UInt8] {
        var w = StateWriter()
        w.bytes.append(contentsOf: Self.stateMagic)
        var version = Int64(Self.stateVersion)
        w.code(&version)
        w.raw(Self.fingerprint(of: catalog))
        var n = tracks.count
        w.code(&n)
        for i in tracks.indices {
            try? tracks[i].code(&w)
            do { try eventTracks[i].code(&w) } catch { var none: AnomalyEvent? = nil; try? w.code(&none) }
        }
        for g in discoveries.indices { try? discoveries[g].code(&w) }
        w.raw(Self.checksum(w.bytes[...]))
        return w.bytes
    }

    /// Restores a state saved by `saveState` for the same catalog. On any error nothing changes.
    public func restoreState(_ bytes: [UInt8]) throws {
        guard bytes.count >= 4, Array(bytes[0..<4]) == Self.stateMagic else {
            throw DetectionError(.invalidState, "not a Vigil detector state (bad magic)")
        }
        guard bytes.count >= 12 else { throw StateReader.corrupt("truncated") }
        let body = bytes[0..<(bytes.count - 8)]
        var stored: UInt64 = 0
        for k in 0..<8 { stored |= UInt64(bytes[bytes.count - 8 + k]) << (8 * UInt64(k)) }
        guard stored == Self.checksum(body) else { throw StateReader.corrupt("checksum mismatch") }
        var r = StateReader(bytes: Array(body))
        r.offset = 4
        var version: Int64 = 0
        try r.code(&version)
        guard version == Int64(Self.stateVersion) else {
            if version == 1 || version == 2 {
                throw DetectionError(.invalidState,
                    "detector state version \(version) was written by an older Vigil; it cannot be restored, the detector warms up afresh")
            }
            throw DetectionError(.invalidState, "detector state version \(version), expected \(Self.stateVersion)")
        }
        guard try r.raw() == Self.fingerprint(of: catalog) else {
            throw DetectionError(.invalidState, "the detector state was saved for another catalog (fingerprint mismatch)")
        }
        var n = 0
        try r.code(&n)
        guard n == tracks.count else {
            throw DetectionError(.invalidState, "the state holds \(n) sensors, the catalog \(tracks.count)")
        }
        var newTracks = tracks
        var newEvents = eventTracks
        for i in 0..<n {
            // Settings as the catalog gives them: a season found since is restored from the state, or not at all.
            newTracks[i].settings = SensorSettings(sensor: catalog.sensors[i])
            try newTracks[i].code(&r)
            try newEvents[i].code(&r)
            for p in 0..<newTracks[i].partnerCount {
                let j = Int(newTracks[i].partners[p])
                guard j >= 0, j < n, j != i else { throw StateReader.corrupt("a partner out of range") }
            }
        }
        var newDiscoveries = discoveries
        for g in newDiscoveries.indices { try newDiscoveries[g].code(&r) }
        guard r.offset == body.count else { throw StateReader.corrupt("\(body.count - r.offset) trailing bytes") }
        tracks = newTracks
        eventTracks = newEvents
        discoveries = newDiscoveries
        silenceQueue.removeAll()
        for i in tracks.indices { scheduleSilenceCheck(i) }
    }
}
