import Detection
import Foundation
import Telemetry
import Testing

@Suite("Score range and calibration")
struct CalibrationTests {
    /// Normal-time series of different shapes, none with a fault.
    static let shapes: [(String, @Sendable (inout Noise, Int) -> Double)] = [
        ("gaussian", { n, _ in 10 + n.gaussian() }),
        ("heavy tailed (Laplace)", { n, _ in
            let u = n.uniform() - 0.5
            return 5 - (u < 0 ? -1.0 : 1.0) * Foundation.log(1 - 2 * abs(u))
        }),
        ("quantized", { n, _ in (20 + 0.7 * n.gaussian()).rounded() }),
        ("seasonal wave", { n, k in 50 + 10 * Foundation.sin(Double(k) / 200 * 2 * .pi) + n.gaussian() }),
    ]

    @Test("noise of many shapes stays mostly quiet and in [0, 1]", arguments: 0..<4)
    func quiet(shape: Int) {
        var noise = Noise(seed: 100 + UInt64(shape))
        let values = (0..<6000).map { k in Self.shapes[shape].1(&noise, k) }
        let result = run(values)
        #expect(result.scores.allSatisfy { $0 >= 0 && $0 <= 1 })
        let high = result.scores.filter { $0 >= 0.5 }.count
        #expect(Double(high) / Double(values.count) < 0.002, "\(Self.shapes[shape].0): \(high) readings at 0.5 or more")
        let opened = result.events.filter { $0.stage == .opened }.count
        #expect(opened <= 2, "\(Self.shapes[shape].0): \(opened) events")
    }

    @Test("scores are ordered by how unusual the reading is")
    func monotone() {
        var scores: [Double] = []
        for size in [3.0, 5, 7, 10, 20] {
            var values = gaussianSeries(count: 500, seed: 200)
            values[400] += size
            scores.append(run(values).scores[400])
        }
        #expect(scores == scores.sorted())
        #expect(scores.first! < 0.3)
        #expect(scores.last! == 1)
    }

    @Test("the warm-up scores zero")
    func warmUp() {
        var values = gaussianSeries(count: 300, seed: 201)
        values[50] += 30
        var c = DetectorConfiguration()
        c.warmUpReadings = 100
        let result = run(values, configuration: c)
        #expect(result.scores[..<100].allSatisfy { $0 == 0 })
        #expect(result.events.isEmpty)
    }
}

@Suite("vigil score over CSV")
struct SeriesScorerTests {
    func score(_ text: String, configure: (inout SeriesScoringOptions) -> Void = { _ in }) throws -> ([String], SeriesScoringSummary) {
        var options = SeriesScoringOptions()
        configure(&options)
        var out = ""
        let summary = try SeriesScorer(options: options).score(text: text) { out += $0 }
        return (out.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init), summary)
    }

    func table(rows: Int, separator: String = ",", time: (Int) -> String = { String(1_700_000_000 + $0 * 60) },
               value: (Int) -> String) -> String {
        var text = "timestamp\(separator)value\n"
        for k in 0..<rows { text += time(k) + separator + value(k) + "\n" }
        return text
    }

    @Test("one output row per input row, in order, with a score in [0, 1]")
    func rowsInOrder() throws {
        var noise = Noise(seed: 300)
        let values = (0..<800).map { k -> String in
            if k == 333 { return "oops" }
            if k == 600 { return "" }
            return String(10 + noise.gaussian() + (k == 500 ? 15 : 0))
        }
        let input = table(rows: 800) { values[$0] }
        let (lines, summary) = try score(input)
        let inputLines = input.split(separator: "\n").map(String.init)
        #expect(lines.count == inputLines.count)
        #expect(lines[0] == "timestamp,value,anomaly_score")
        for (k, line) in lines.enumerated().dropFirst() {
            #expect(line.hasPrefix(inputLines[k] + ","))
            let score = try #require(Double(line.split(separator: ",", omittingEmptySubsequences: false).last!))
            #expect(score >= 0 && score <= 1)
        }
        #expect(summary.rows == 800)
        #expect(summary.unreadableRows == 2)
        #expect(lines[334].hasSuffix(",0.000000"))
        #expect((Double(lines[501].split(separator: ",").last!) ?? 0) >= 0.5)
    }

    @Test("a level that stays changed: the score peaks at the change and falls back while the flag stays")
    func scoreMarksNews() throws {
        var noise = Noise(seed: 303)
        let input = table(rows: 1600) { k in String(10 + noise.gaussian() + (k >= 800 ? 6 : 0)) }
        let (lines, summary) = try score(input) { $0.flags = true }
        let rows = lines.dropFirst().map { $0.split(separator: ",") }
        let scores = rows.map { Double($0[2])! }, flags = rows.map { $0[3] == "1" }
        #expect(summary.events.filter { $0.stage == .opened }.count == 1)
        // The onset: the score crosses the open threshold within a few rows of the change.
        let onset = try #require(scores.indices.first { $0 >= 800 && scores[$0] >= 0.6 })
        #expect(onset <= 805)
        // Forty rows later the event is still open, and its score has fallen below a tenth.
        #expect(flags[onset + 40])
        #expect(scores[(onset + 40)...].prefix(100).allSatisfy { $0 < 0.1 }, "\(scores[onset...].prefix(40))")
        // A threshold swept over the score finds the onset, not the event's rows.
        #expect(scores[800...].filter { $0 >= 0.5 }.count <= 12)
    }

    @Test("timestamp forms and separators", arguments: [
        (";", "rfc3339"), ("\t", "datetime"), (",", "millis"),
    ])
    func formats(separator: String, form: String) throws {
        let start = 1_700_000_000
        let time: (Int) -> String = { k in
            let ms = Int64(start + k * 2) * 1000
            switch form {
            case "rfc3339": return Timestamp.rfc3339(ms)
            case "datetime": return String(Timestamp.rfc3339(ms).prefix(19)).replacingOccurrences(of: "T", with: " ")
            default: return String(ms)
            }
        }
        var noise = Noise(seed: 301)
        let input = table(rows: 500, separator: separator, time: time) { k in String(5 + noise.gaussian() + (k == 400 ? 20 : 0)) }
        let (lines, summary) = try score(input) { $0.flags = true }
        #expect(summary.unreadableRows == 0)
        #expect(lines.count == 501)
        #expect(lines[0] == "timestamp\(separator)value\(separator)anomaly_score\(separator)anomaly")
        let fields = lines[401].components(separatedBy: separator)
        #expect(fields.last == "1")
        #expect((Double(fields[fields.count - 2]) ?? 0) >= 0.5)
    }

    @Test("several value columns, the row score corrected for their number")
    func multiColumn() throws {
        var noise = Noise(seed: 302)
        var text = "time;a;b\n"
        for k in 0..<600 {
            let b = 3 + noise.gaussian() + (k == 400 ? 25 : 0)
            text += "\(1_700_000_000 + k);\(1 + noise.gaussian());\(b)\n"
        }
        let (lines, _) = try score(text) {
            $0.timestampColumn = "time"
            $0.valueColumns = ["a", "b"]
        }
        #expect(lines.count == 601)
        #expect((Double(lines[401].split(separator: ";").last!) ?? 0) >= 0.5)
    }

    @Test("a missing column is a clear error")
    func missingColumn() {
        #expect(throws: DetectionError.self) { _ = try score("time,v\n1,2\n") }
        #expect(throws: DetectionError.self) { _ = try score("") }
    }
}
