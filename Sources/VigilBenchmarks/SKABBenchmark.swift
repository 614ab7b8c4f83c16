import Detection
import Foundation
import Telemetry

/// The SKAB benchmark (Skoltech Anomaly Benchmark) run by its published protocol, streaming.
///
/// For each of the 34 files with anomalies (valve1, valve2, other): a fresh detector over all eight sensor
/// columns whose warm-up is the first 400 rows (the protocol's training part), then the remaining rows are
/// evaluated as they stream. A row is predicted anomalous while any column has an event open; predicted
/// changepoints are the rows where that prediction switches on or off. Outlier detection: F1, FAR, MAR over
/// the concatenated test rows. Changepoint detection: NAB scores with a 60 s window right of each true
/// changepoint.
public struct SKABBenchmark {
    public static let trainingRows = 400
    public static let windowSeconds = 60.0
    public static let folders = ["valve1", "valve2", "other"]

    /// One file's rows.
    public struct Recording: Sendable {
        public var name: String
        public var columns: [String]
        public var timestamps: [Int64]
        /// values[row][column]
        public var values: [[Double]]
        public var anomaly: [Bool]
        public var changepoint: [Bool]
    }

    public struct Result: Sendable {
        public var files = 0
        public var testRows = 0
        public var tp = 0, fp = 0, tn = 0, fn = 0
        public var nab: [(profile: String, score: Double)] = []
        public var nabTsad: [(profile: String, score: Double)] = []
        /// Events opened in the test rows, and those of them opened on an anomalous row.
        public var events = 0
        public var trueEvents = 0
        /// Event precision: the share of opened events that opened during a labelled anomaly.
        public var eventPrecision: Double { events == 0 ? 1 : Double(trueEvents) / Double(events) }

        public var f1: Double { Double(tp) / (Double(tp) + Double(fn + fp) / 2) }
        /// False alarm rate, % of normal rows flagged.
        public var far: Double { 100 * Double(fp) / Double(max(fp + tn, 1)) }
        /// Missed alarm rate, % of anomalous rows not flagged.
        public var mar: Double { 100 * Double(fn) / Double(max(fn + tp, 1)) }
    }

    /// Published leaderboard rows (SKAB README, test set) to print next to the result.
    public static let outlierLeaderboard: [(String, f1: Double, far: Double?, mar: Double?)] = [
        ("Conv-AE", 0.78, 13.55, 28.02), ("MSET", 0.78, nil, nil), ("T-squared+Q (PCA)", 0.76, nil, nil),
        ("LSTM-AE", 0.74, nil, nil), ("T-squared", 0.66, nil, nil), ("Isolation forest", 0.29, nil, nil),
    ]
    public static let changepointLeaderboard: [(String, standard: Double)] = [
        ("MSCRED", 32.42), ("Isolation forest", 26.16), ("T-squared+Q (PCA)", 25.35), ("Conv-AE", 23.61),
    ]

    public let recordings: [Recording]

    /// Loads the corpus; throws `invalidDataset` when the folder or its files are missing or malformed.
    public init(directory: String) throws {
        var recordings: [Recording] = []
        let fm = FileManager.default
        for folder in Self.folders {
            let path = directory + "/" + folder
            guard let names = try? fm.contentsOfDirectory(atPath: path) else {
                throw DetectionError(.invalidDataset, "no SKAB folder at \(path)")
            }
            let files = names.filter { $0.hasSuffix(".csv") }.sorted {
                (Int($0.dropLast(4)) ?? 0, $0) < (Int($1.dropLast(4)) ?? 0, $1)
            }
            for file in files {
                guard let text = try? String(contentsOfFile: path + "/" + file, encoding: .utf8) else {
                    throw DetectionError(.invalidDataset, "cannot read \(path)/\(file)")
                }
                recordings.append(try Self.parse(text: text, name: folder + "/" + file))
            }
        }
        guard !recordings.isEmpty else { throw DetectionError(.invalidDataset, "no SKAB files under \(directory)") }
        self.recordings = recordings
    }

    static func parse(text: String, name: String) throws -> Recording {
        let lines = DelimitedText.lines(text)
        guard let header = lines.first else { throw DetectionError(.invalidDataset, "\(name): empty file") }
        let separator = DelimitedText.detectSeparator(header: header)
        let names = DelimitedText.fields(header, separator: separator).map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        guard let timeIndex = names.firstIndex(of: "datetime"), let anomalyIndex = names.firstIndex(of: "anomaly"),
              let changeIndex = names.firstIndex(of: "changepoint")
        else { throw DetectionError(.invalidDataset, "\(name): expected datetime, anomaly and changepoint columns") }
        let valueIndices = names.indices.filter { ![timeIndex, anomalyIndex, changeIndex].contains($0) }
        var recording = Recording(name: name, columns: valueIndices.map { names[$0] }, timestamps: [], values: [],
                                  anomaly: [], changepoint: [])
        for (n, line) in lines.dropFirst().enumerated() where !line.isEmpty {
            let fields = DelimitedText.fields(line, separator: separator)
            guard fields.count == names.count, let t = Timestamp.parse(fields[timeIndex]) else {
                throw DetectionError(.invalidDataset, "\(name): row \(n + 2) is malformed")
            }
            recording.timestamps.append(t)
            recording.values.append(valueIndices.map { Double(fields[$0].trimmingCharacters(in: .whitespacesAndNewlines)) ?? .nan })
            recording.anomaly.append((Double(fields[anomalyIndex].trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) > 0.5)
            recording.changepoint.append((Double(fields[changeIndex].trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0) > 0.5)
        }
        return recording
    }

    /// Streams one recording through a fresh detector; the predicted flag of every row, and whether an event
    /// opened or resolved on any sensor at that row (the predicted changepoints), and the rows where an
    /// event opened.
    static func predictAll(_ r: Recording, configuration: DetectorConfiguration) -> (flags: [Bool], changes: [Bool], opens: [Int]) {
        var c = configuration
        c.warmUpReadings = trainingRows
        c.warmUpSeconds = .infinity
        let detector = PlantDetector(catalog: .adHoc(columns: r.columns), configuration: c)
        var events: [AnomalyEvent] = []
        var flags: [Bool] = []
        var changes: [Bool] = []
        var opens: [Int] = []
        flags.reserveCapacity(r.timestamps.count)
        changes.reserveCapacity(r.timestamps.count)
        for row in r.timestamps.indices {
            let t = r.timestamps[row]
            detector.advance(to: t, events: &events)
            for (sensor, v) in r.values[row].enumerated() {
                _ = detector.ingest(sensor: sensor, timestamp: t, value: v, events: &events)
            }
            flags.append(detector.anyAbnormal)
            changes.append(!events.isEmpty)
            for e in events where e.stage == .opened { opens.append(row) }
            events.removeAll(keepingCapacity: true)
        }
        return (flags, changes, opens)
    }

    /// What counts as a predicted changepoint.
    public enum Changepoints: Sendable {
        /// A row where any sensor's event opens or resolves.
        case events
        /// A row where the file's anomaly flag switches on or off.
        case flagTransitions
    }

    public func run(configuration: DetectorConfiguration = .init(), changepoints: Changepoints = .events) -> Result {
        var result = Result()
        var corpus: [NABSeries] = []
        for r in recordings {
            let (flags, changes, opens) = Self.predictAll(r, configuration: configuration)
            let start = min(Self.trainingRows, r.timestamps.count)
            for row in opens where row >= start {
                result.events += 1
                if r.anomaly[row] { result.trueEvents += 1 }
            }
            result.files += 1
            var detections: [Bool] = []
            var previous = start > 0 ? flags[start - 1] : false
            for row in start..<r.timestamps.count {
                result.testRows += 1
                switch (r.anomaly[row], flags[row]) {
                case (true, true): result.tp += 1
                case (false, true): result.fp += 1
                case (true, false): result.fn += 1
                case (false, false): result.tn += 1
                }
                detections.append(changepoints == .events ? changes[row] : flags[row] != previous)
                previous = flags[row]
            }
            // Windows: [changepoint, changepoint + 60 s], cut where they would overlap the next one.
            var windows: [ClosedRange<Int>] = []
            let times = Array(r.timestamps[start...])
            for row in start..<r.timestamps.count where r.changepoint[row] {
                let first = row - start
                var last = first
                let limit = r.timestamps[row] + Int64(Self.windowSeconds * 1000)
                while last + 1 < times.count, times[last + 1] <= limit { last += 1 }
                if let previous = windows.last, previous.upperBound >= first {
                    if previous.upperBound >= last { continue }
                    windows.append((previous.upperBound + 1)...last)
                } else {
                    windows.append(first...last)
                }
            }
            corpus.append(NABSeries(detections: detections, windows: windows))
        }
        result.nab = NABProfile.all.map { ($0.name, NABScore.score(corpus, profile: $0)) }
        result.nabTsad = NABProfile.all.map { ($0.name, NABScore.tsadScore(corpus, profile: $0)) }
        return result
    }
}
