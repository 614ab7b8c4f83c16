import Agent
import Detection
import Foundation
import Logging
import Telemetry
import Testing
import VigilTestSupport

/// The detector state file: real files in temporary folders, restored into real pipelines.
@Suite struct DeployStateTests {
    static let start: Int64 = 1_750_000_000_000

    /// Three sensors read once a second; `c` has silence detection like the others.
    static func catalog(limitHigh: Double = 1000) -> Catalog {
        let sensors = ["a", "b", "c"].map { name in
            Sensor(id: SensorID(name), name: name, unit: "u", asset: "m", topic: "t/\(name)", samplePeriod: 1,
                   limits: Limits(low: -1000, high: limitHigh))
        }
        return Catalog(plant: "p", site: "s", assets: [Asset(id: "m", name: "m", kind: "machine")], sensors: sensors)
    }

    /// A pipeline that has learned a quiet baseline: `seconds` readings per sensor, one a second.
    static func warmPipeline(_ catalog: Catalog, seconds: Int = 700) -> Pipeline {
        let pipeline = Pipeline(catalog: catalog)
        for k in 0..<seconds { _ = feed(pipeline, second: k) }
        return pipeline
    }

    /// One normal reading of each sensor at `start + second`: a level with a small, deterministic wobble.
    static func feed(_ p: Pipeline, second k: Int, shift: Double = 0, only: Set<Int>? = nil) -> [AnomalyEvent] {
        var events: [AnomalyEvent] = []
        let t = start + Int64(k) * 1000
        for (i, s) in p.catalog.sensors.enumerated() where only?.contains(i) ?? true {
            let wobble = 0.6 * sin(Double(k) * 0.9 + Double(i)) + 0.3 * sin(Double(k) * 2.3)
            events += p.ingest(Reading(sensor: s.id, timestamp: t, value: 50 + Double(i) * 10 + wobble + (i == 0 ? shift : 0)),
                               index: i, clock: t)
        }
        return events
    }

    static func files(_ directory: TemporaryDirectory) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []).sorted()
    }

    func quietLogger() -> Logger {
        var logger = Logger(label: "state-test")
        logger.logLevel = .critical
        return logger
    }

    @Test func savedStateRestoresADetectorThatAlertsWithoutWarmUp() throws {
        let directory = try TemporaryDirectory(prefix: "vigil-state")
        defer { directory.remove() }
        let catalog = Self.catalog()
        let warm = Self.warmPipeline(catalog)
        let file = DetectorStateFile(path: directory.file("detector.state").path)
        try file.save(warm.detector.saveState())
        #expect(FileManager.default.fileExists(atPath: file.path))
        #expect(!Self.files(directory).contains { $0.contains(".tmp-") }, "the temporary file was left behind")

        // A level shift of sensor a, right after a restart: the restored detector alerts at once...
        let restored = Pipeline(catalog: catalog)
        let outcome = file.restore(into: restored, now: Self.start + 700_000, logger: quietLogger())
        guard case .restored(let sensors, _) = outcome else { Issue.record("not restored: \(outcome)"); return }
        #expect(sensors == 3)
        var opened: [AnomalyEvent] = []
        for k in 700..<720 { opened += Self.feed(restored, second: k, shift: 25).filter { $0.stage == .opened } }
        #expect(opened.contains { $0.sensor == "a" }, "the restored detector raised nothing on a level shift")

        // ...while a fresh one is still learning and says nothing.
        let fresh = Pipeline(catalog: catalog)
        var freshOpened: [AnomalyEvent] = []
        for k in 700..<720 { freshOpened += Self.feed(fresh, second: k, shift: 25).filter { $0.stage == .opened } }
        #expect(freshOpened.isEmpty)
    }

    @Test func aRestartAfterALongDowntimeRaisesNoSilenceForTheGap() throws {
        let directory = try TemporaryDirectory(prefix: "vigil-state")
        defer { directory.remove() }
        let catalog = Self.catalog()
        let file = DetectorStateFile(path: directory.file("detector.state").path)
        try file.save(Self.warmPipeline(catalog).detector.saveState())

        // Two hours later the agent starts again; a and b report at once, c never does.
        let restartSecond = 700 + 7200
        let restart = Self.start + Int64(restartSecond) * 1000
        let pipeline = Pipeline(catalog: catalog)
        guard case .restored = file.restore(into: pipeline, now: restart, logger: quietLogger()) else {
            Issue.record("not restored"); return
        }
        var events: [AnomalyEvent] = []
        for k in restartSecond..<(restartSecond + 120) {
            events += Self.feed(pipeline, second: k, only: [0, 1])
            events += pipeline.advance(to: Self.start + Int64(k) * 1000 + 500)
        }
        let silences = events.filter { $0.kind == .silence && $0.stage == .opened }
        #expect(!silences.contains { $0.sensor == "a" || $0.sensor == "b" }, "false silence for the downtime: \(silences.map(\.id))")
        // The sensor that stayed quiet after the restart is reported, once the hold is over.
        let hold = DetectorStateFile.silenceHold(catalog: catalog, configuration: pipeline.detector.configuration)
        let c = silences.filter { $0.sensor == "c" }
        #expect(c.count == 1)
        if let event = c.first { #expect(event.detectedAt >= restart + hold) }
    }

    @Test func noFileMeansAFreshStart() throws {
        let directory = try TemporaryDirectory(prefix: "vigil-state")
        defer { directory.remove() }
        let file = DetectorStateFile(path: directory.file("detector.state").path)
        #expect(file.restore(into: Pipeline(catalog: Self.catalog()), now: Self.start, logger: quietLogger()) == .absent)
    }

    enum Bad: String, CaseIterable, Sendable { case truncated, flipped, garbage, empty, huge, otherCatalog, otherVersion }

    @Test(arguments: Bad.allCases) func anUnusableFileIsMovedAsideAndTheDetectorWarmsUp(_ bad: Bad) throws {
        let directory = try TemporaryDirectory(prefix: "vigil-state")
        defer { directory.remove() }
        let catalog = Self.catalog()
        let file = DetectorStateFile(path: directory.file("detector.state").path)
        var bytes = Self.warmPipeline(catalog, seconds: 400).detector.saveState()
        switch bad {
        case .truncated: bytes = Array(bytes.prefix(bytes.count / 2))
        case .flipped: bytes[bytes.count / 2] ^= 0x40
        case .garbage: bytes = (0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 7919 &+ 13) }
        case .empty: bytes = []
        case .huge: bytes += [UInt8](repeating: 0x55, count: 2 << 20)  // refused unread: more than a state of 3 sensors
        case .otherCatalog: bytes = Self.warmPipeline(Self.catalog(limitHigh: 999), seconds: 400).detector.saveState()
        case .otherVersion: bytes[4] = 0x7F  // the layout version, as a later release would write it
        }
        try Data(bytes).write(to: URL(fileURLWithPath: file.path))

        let records = LogRecords()
        let pipeline = Pipeline(catalog: catalog)
        let outcome = file.restore(into: pipeline, now: Self.start, logger: records.logger)
        guard case .discarded(let fault, let detail, let movedTo) = outcome else {
            Issue.record("\(bad): expected the file to be refused, got \(outcome)"); return
        }
        let expected: DetectorStateFault = switch bad {
        case .otherCatalog: .catalog
        case .otherVersion: .version
        default: .corrupt
        }
        #expect(fault == expected, "\(detail)")
        // Kept for a post-mortem, byte for byte, under a name that says what it is; the path is free again.
        let moved = try #require(movedTo)
        #expect(URL(fileURLWithPath: moved).lastPathComponent.hasPrefix("detector.state.bad-"))
        #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: moved))) == bytes)
        #expect(!FileManager.default.fileExists(atPath: file.path))
        #expect(records.lines.contains { $0.contains("saved detector state not used") && $0.contains(expected.rawValue) })
        // A fresh detector: still warming up, so a shift raises nothing yet.
        #expect(pipeline.silenceHeldUntil == nil)
        var opened: [AnomalyEvent] = []
        for k in 0..<20 { opened += Self.feed(pipeline, second: k, shift: 25).filter { $0.stage == .opened } }
        #expect(opened.isEmpty)
        // And the next save works as usual.
        try file.save(pipeline.detector.saveState())
        #expect(file.restore(into: Pipeline(catalog: catalog), now: Self.start, logger: quietLogger()) != .absent)
    }

    @Test func anAtomicSaveReplacesTheOldStateWhole() throws {
        let directory = try TemporaryDirectory(prefix: "vigil-state")
        defer { directory.remove() }
        let catalog = Self.catalog()
        let file = DetectorStateFile(path: directory.file("detector.state").path)
        let first = Self.warmPipeline(catalog, seconds: 100).detector.saveState()
        let second = Self.warmPipeline(catalog, seconds: 400).detector.saveState()
        try file.save(first)
        try file.save(second)
        #expect(try [UInt8](Data(contentsOf: URL(fileURLWithPath: file.path))) == second)
        #expect(Self.files(directory) == ["detector.state"])
        // A save cut short by a crash leaves a temporary file: the next start removes it and reads the state.
        try Data(first.prefix(100)).write(to: directory.file("detector.state.tmp-99999"))
        #expect(file.restore(into: Pipeline(catalog: catalog), now: Self.start, logger: quietLogger()) != .absent)
        #expect(Self.files(directory) == ["detector.state"])
        // A folder that does not exist: an error that names the file, not a crash.
        let nowhere = DetectorStateFile(path: directory.file("missing/detector.state").path)
        #expect(throws: AgentError.self) { try nowhere.save(first) }
    }
}

/// Collects formatted log lines (level, message and metadata) for checks.
final class LogRecords: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: [String] = []

    var lines: [String] { lock.withLock { stored } }

    var logger: Logger {
        var logger = Logger(label: "records") { _ in Handler(sink: self) }
        logger.logLevel = .debug
        return logger
    }

    func append(_ line: String) { lock.withLock { stored.append(line) } }

    struct Handler: LogHandler {
        let sink: LogRecords
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .debug

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let fields = (event.metadata ?? [:]).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
            sink.append("\(event.level) \(event.message) \(fields)")
        }
    }
}
