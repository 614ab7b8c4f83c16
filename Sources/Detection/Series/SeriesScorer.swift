import Foundation
import Telemetry

/// How `vigil score` reads a table of readings.
public struct SeriesScoringOptions: Sendable {
    /// Name of the timestamp column (epoch s or ms, RFC 3339, `YYYY-MM-DD HH:MM:SS`).
    public var timestampColumn = "timestamp"
    /// Names of the value columns, each scored as its own sensor.
    public var valueColumns = ["value"]
    /// Field separator; nil detects `,` `;` or tab from the header.
    public var separator: Character?
    /// Also write an `anomaly` 0/1 column: 1 while any column has an open event.
    public var flags = false
    /// The detector's settings; the warm-up counts readings only (a table's time span says nothing).
    public var configuration: DetectorConfiguration = {
        var c = DetectorConfiguration()
        c.warmUpSeconds = .infinity
        return c
    }()

    public init() {}
}

/// What a scoring run saw.
public struct SeriesScoringSummary: Sendable, Equatable {
    public var rows = 0
    /// Rows whose timestamp or every value could not be read (written with score 0).
    public var unreadableRows = 0
    /// Rows flagged anomalous (the `anomaly` column).
    public var flaggedRows = 0
    public var events: [AnomalyEvent] = []
}

/// Scores a table of readings row by row, using only what the detector had seen up to each row.
///
/// Output: the input rows in order, each with `anomaly_score` (and `anomaly` with `flags`) appended with the
/// input's separator; one output row per input row (blank lines are not rows and are dropped).
/// The row score fuses the columns like the detectors are fused: the strongest column's tail probability,
/// Bonferroni-corrected for the number of columns (`max(0, max score - log10(columns) / 10)`), and 1 when a
/// column crosses an engineering limit. The score marks news, the flag the state: while an event is open on a
/// column, that column's score halves every `newsHalfLife` readings after the one that opened it, so a level that
/// stays changed peaks where it changed and falls back (a threshold swept over the score finds the onset, not
/// every row of the event). A row whose timestamp cannot be parsed, or with no readable value,
/// scores 0 (flag 0) and does not touch the detector; an unreadable value in one column skips that column.
public struct SeriesScorer {
    public let options: SeriesScoringOptions

    public init(options: SeriesScoringOptions) { self.options = options }

    public func score(text: String, write: (String) -> Void) throws -> SeriesScoringSummary {
        let lines = DelimitedText.lines(text)
        guard let headerIndex = lines.firstIndex(where: { !$0.allSatisfy(\.isWhitespace) }) else {
            throw DetectionError(.invalidTable, "the table is empty: expected a header line with column names")
        }
        let header = lines[headerIndex]
        let separator = options.separator ?? DelimitedText.detectSeparator(header: header)
        let names = DelimitedText.fields(header, separator: separator).map { $0.trimmingCharacters() }
        guard let timeColumn = names.firstIndex(of: options.timestampColumn) else {
            throw DetectionError(.invalidTable,
                "no timestamp column `\(options.timestampColumn)`; the columns are: \(names.joined(separator: ", ")) (use --timestamp-column)")
        }
        var valueIndices: [Int] = []
        for column in options.valueColumns {
            guard let index = names.firstIndex(of: column) else {
                throw DetectionError(.invalidTable,
                    "no value column `\(column)`; the columns are: \(names.joined(separator: ", ")) (use --value-column)")
            }
            valueIndices.append(index)
        }
        guard !valueIndices.isEmpty else { throw DetectionError(.invalidTable, "expected at least one value column") }

        let detector = PlantDetector(catalog: .adHoc(columns: options.valueColumns), configuration: options.configuration)
        let sep = String(separator)
        let correction = log10(Double(valueIndices.count)) / 10
        var summary = SeriesScoringSummary()
        var events: [AnomalyEvent] = []
        write(String(header) + sep + "anomaly_score" + (options.flags ? sep + "anomaly" : "") + "\n")

        for line in lines[(headerIndex + 1)...] where !line.allSatisfy(\.isWhitespace) {
            summary.rows += 1
            let fields = DelimitedText.fields(line, separator: separator)
            var rowScore = 0.0
            var read = 0
            if timeColumn < fields.count, let t = Timestamp.parse(fields[timeColumn]) {
                detector.advance(to: t, events: &events)
                for (sensor, column) in valueIndices.enumerated() where column < fields.count {
                    guard let value = Double(fields[column].trimmingCharacters()), value.isFinite else { continue }
                    read += 1
                    var s = detector.ingest(sensor: sensor, timestamp: t, value: value, events: &events)
                    if s >= 1 { s = 1 + correction }
                    rowScore = max(rowScore, s * detector.newsFactor(sensor: sensor))
                }
            }
            var flagged = false
            if read == 0 {
                summary.unreadableRows += 1
                rowScore = 0
            } else {
                rowScore = min(max(rowScore - correction, 0), 1)
                flagged = detector.anyAbnormal
            }
            if flagged { summary.flaggedRows += 1 }
            var out = String(line) + sep + formatScore(rowScore)
            if options.flags { out += sep + (flagged ? "1" : "0") }
            out += "\n"
            write(out)
        }
        summary.events = events
        return summary
    }
}

extension PlantDetector {
    /// Readings after the one that opened an event, over which its score halves in `vigil score`.
    static let newsHalfLife = 10.0

    /// What the sensor's score is worth as news: 1 while no event is open, then halving every `newsHalfLife`
    /// readings after the reading that opened the open event.
    func newsFactor(sensor i: Int) -> Double {
        guard eventTracks[i].isOpen else { return 1 }
        let k = max(tracks[i].count - eventTracks[i].openedCount, 0)
        return k == 0 ? 1 : exp2(-Double(k) / Self.newsHalfLife)
    }
}

/// Six decimals, no exponent: `0.123456`.
func formatScore(_ s: Double) -> String {
    let micro = Int((min(max(s, 0), 1) * 1_000_000).rounded())
    if micro >= 1_000_000 { return "1.000000" }
    let digits = String(micro)
    return "0." + String(repeating: "0", count: 6 - digits.count) + digits
}

func log10(_ x: Double) -> Double { TailProbability.log10Of(x) }

extension Substring {
    func trimmingCharacters() -> String {
        var s = self[...]
        while let f = s.first, f.isWhitespace { s = s.dropFirst() }
        while let l = s.last, l.isWhitespace { s = s.dropLast() }
        return String(s)
    }
}
