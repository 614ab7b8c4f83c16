import Foundation

/// What the season search costs at worst, for `vigil bench detect`.
public enum SeasonSearchCost {
    /// The costliest steps of the season search, in ns of this thread's CPU time per call: one lag of a sweep
    /// on a full window (95 point pairs; at most one per reading) and one halving of a full window.
    public static func worstSteps(calls: Int, cpuSeconds threadCPUSeconds: () -> Double) -> (sweepStep: Double, compaction: Double) {
        var buffer = ContiguousArray<Double>(repeating: 0, count: SeasonSearch.window)
        for k in buffer.indices { buffer[k] = Foundation.sin(Double(k) * 0.3) + Double(k % 7) * 0.01 }
        var sink = 0.0
        var start = threadCPUSeconds()
        for k in 0..<calls {
            buffer[k % SeasonSearch.window] += 1e-9
            sink += SeasonSearch.correlation(buffer, count: SeasonSearch.window, lag: 1 + k % 2)
        }
        let sweep = (threadCPUSeconds() - start) / Double(calls) * 1e9
        var search = SeasonSearch()
        start = threadCPUSeconds()
        for _ in 0..<calls {
            search.count = SeasonSearch.window
            search.block = 1
            search.compact(&buffer)
        }
        let compaction = (threadCPUSeconds() - start) / Double(calls) * 1e9
        if sink.isNaN || buffer[0].isNaN { return (0, 0) }
        return (sweep, compaction)
    }
}

extension PlantDetector {
    /// Bytes of state per sensor (mean over the catalog): the per-sensor structs and their fixed buffers,
    /// including the buffers' headers, as allocated at init.
    public var stateBytesPerSensor: Int {
        let header = 32
        var total = 0
        for (track, events) in zip(tracks, eventTracks) {
            total += MemoryLayout<SensorTrack>.stride + MemoryLayout<EventTrack>.stride
            total += 4 * header + 8 * (track.values.count + track.diffs.count + track.season.count + track.pairs.count * PairStatistics.fieldCount)
            total += 4 * header + 16 * (events.historyT.count + events.duringT.count)
        }
        return total / max(tracks.count, 1)
    }
}
