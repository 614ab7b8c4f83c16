import ArgumentParser
import Detection
import Foundation
import Telemetry
import VigilBenchmarks

struct ScoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "score",
        abstract: "Score a CSV series row by row with the streaming detector.",
        discussion: """
            Reads a table with a timestamp column and one or more value columns and writes the same rows, in \
            order, with an `anomaly_score` column in [0, 1] appended (and with --flags an `anomaly` 0/1 column: \
            1 while an event is open on any column). Each row is scored with only what the detector had seen \
            up to that row. A score s means the reading is as unusual as a 10^(-10 s) tail event (0.5: one in \
            100 000); the first readings (the warm-up) score 0. The score marks news and the flag the state: \
            while an event is open on a column, that column's score halves every 10 readings after the one that \
            opened it, so a level that stays changed peaks where it changed and falls back (a threshold swept \
            over the score finds the onset, not every row of the event), and the flag stays 1 until it resolves.

            Timestamps: epoch seconds or milliseconds, RFC 3339, or `YYYY-MM-DD HH:MM:SS` (UTC); sampling may \
            be irregular. Several value columns: each is a sensor of its own and the row score is the strongest \
            column's, corrected for the number of columns (max - log10(columns)/10). Rows whose timestamp or \
            every value cannot be read are still written, with score 0 and flag 0; an unreadable value in one \
            column skips that column. Blank lines are dropped.

            Each column's season (daily, hourly, ...) is found in its readings when it has one, and its values \
            are then also judged against the usual shape of the season; columns that move together during the \
            warm-up are related, and a break in their relation is scored too.

            Examples:
              vigil score data.csv > scored.csv
              vigil score --value-column temp --value-column pressure --flags --out scored.csv plant.csv
            """
    )

    @Argument(help: ArgumentHelp("The CSV file (`-` for standard input).", valueName: "file.csv"))
    var file: String

    @Option(help: "Name of the timestamp column.")
    var timestampColumn = "timestamp"

    @Option(name: .customLong("value-column"), parsing: .singleValue, help: "A value column (repeatable; default `value`).")
    var valueColumns: [String] = []

    @Option(help: ArgumentHelp("Field separator: `,`, `;`, `tab` (default: detected from the header).", valueName: "sep"))
    var separator: String?

    @Flag(help: "Also write the `anomaly` 0/1 decision column.")
    var flags = false

    @Option(help: ArgumentHelp("Readings per column before the first score.", valueName: "n"))
    var warmUp: Int?

    @Option(name: .shortAndLong, help: ArgumentHelp("Write here instead of standard output.", valueName: "file"))
    var out: String?

    func validate() throws {
        if let separator, !["", ",", ";", "tab", "\t"].contains(separator) {
            throw ValidationError("--separator must be `,`, `;` or `tab`, found `\(separator)`")
        }
        if let warmUp, warmUp < 2 { throw ValidationError("--warm-up must be at least 2 readings") }
    }

    func run() throws {
        var options = SeriesScoringOptions()
        options.timestampColumn = timestampColumn
        options.valueColumns = valueColumns.isEmpty ? ["value"] : valueColumns
        switch separator {
        case ",": options.separator = ","
        case ";": options.separator = ";"
        case "tab", "\t": options.separator = "\t"
        default: options.separator = nil
        }
        options.flags = flags
        if let warmUp { options.configuration.warmUpReadings = warmUp }

        let data: Data
        if file == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            guard let d = FileManager.default.contents(atPath: file) else {
                throw ValidationError("cannot read \(file)")
            }
            data = d
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ValidationError("\(file) is not UTF-8 text")
        }

        let output: FileHandle
        if let out {
            guard FileManager.default.createFile(atPath: out, contents: nil) , let handle = FileHandle(forWritingAtPath: out) else {
                throw ValidationError("cannot write \(out)")
            }
            output = handle
        } else {
            output = FileHandle.standardOutput
        }
        var buffer = Data()
        buffer.reserveCapacity(1 << 20)
        let summary: SeriesScoringSummary
        do {
            summary = try SeriesScorer(options: options).score(text: text) { line in
                buffer.append(contentsOf: line.utf8)
                if buffer.count >= 1 << 20 {
                    output.write(buffer)
                    buffer.removeAll(keepingCapacity: true)
                }
            }
        } catch let error as DetectionError {
            throw ValidationError(error.message)
        }
        output.write(buffer)
        if out != nil { try output.close() }
        var message = "scored \(summary.rows) rows"
        if summary.unreadableRows > 0 { message += ", \(summary.unreadableRows) unreadable (score 0)" }
        if flags { message += ", \(summary.flaggedRows) flagged" }
        message += ", \(summary.events.filter { $0.stage == .opened }.count) events\n"
        FileHandle.standardError.write(Data(message.utf8))
    }
}

struct BenchSKABCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "skab",
        abstract: "Run the SKAB benchmark by its published protocol, streaming.",
        discussion: """
            For each of the 34 files with anomalies: a fresh detector learns on the first 400 rows, then the rest \
            streams through it. Outlier detection: a row is predicted anomalous while any sensor has an event \
            open (F1, FAR, MAR over all test rows). Changepoint detection: the rows where an event opens or \
            resolves are the predicted changepoints, scored with NAB (60 s window right of each true changepoint; \
            standard, low FP, low FN), both with NAB's sigmoid scoring and with SKAB's evaluation library's \
            variant; --changepoints flag uses the switching of the row flag instead.
            """
    )

    @Option(help: ArgumentHelp("The SKAB data folder (valve1, valve2, other).", valueName: "dir"))
    var data = "../shared/datasets/skab"

    @Option(help: ArgumentHelp("Predicted changepoints: `events` or `flag`.", valueName: "mode"))
    var changepoints = "events"

    func validate() throws {
        guard ["events", "flag"].contains(changepoints) else {
            throw ValidationError("--changepoints must be `events` or `flag`")
        }
    }

    func run() throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: data, isDirectory: &isDirectory), isDirectory.boolValue else {
            print("SKAB data not found at \(data); skipping (pass --data DIR).")
            return
        }
        let bench: SKABBenchmark
        do { bench = try SKABBenchmark(directory: data) } catch let error as DetectionError {
            print("SKAB data unusable: \(error.message); skipping.")
            return
        }
        let start = Date()
        let r = bench.run(changepoints: changepoints == "flag" ? .flagTransitions : .events)
        let seconds = Date().timeIntervalSince(start)
        print("SKAB v0.9: \(r.files) files, \(r.testRows) test rows (first \(SKABBenchmark.trainingRows) rows of each file learned), \(String(format: "%.2f", seconds)) s")
        print("")
        print("Outlier detection            F1     FAR %   MAR %")
        print(String(format: "  Vigil (streaming)        %5.2f   %6.2f  %6.2f", r.f1, r.far, r.mar))
        for row in SKABBenchmark.outlierLeaderboard {
            let far = row.far.map { String(format: "%6.2f", $0) } ?? "     -"
            let mar = row.mar.map { String(format: "%6.2f", $0) } ?? "     -"
            print("  \(row.0.padding(toLength: 23, withPad: " ", startingAt: 0))  \(String(format: "%5.2f", row.f1))   \(far)  \(mar)")
        }
        print(String(format: "  Vigil in rows: F1 %.3f, %d true and %d false positives, %d missed", r.f1, r.tp, r.fp, r.fn))
        print(String(format: "  Vigil events: %d opened in the test rows, %d during a labelled anomaly (event precision %.2f)",
                     r.events, r.trueEvents, r.eventPrecision))
        print("")
        print("Changepoint detection (NAB)  standard  low FP  low FN")
        print(String(format: "  Vigil, NAB sigmoid         %6.2f  %6.2f  %6.2f", r.nab[0].score, r.nab[1].score, r.nab[2].score))
        print(String(format: "  Vigil, SKAB's tsad scale   %6.2f  %6.2f  %6.2f", r.nabTsad[0].score, r.nabTsad[1].score, r.nabTsad[2].score))
        for row in SKABBenchmark.changepointLeaderboard {
            print("  \(row.0.padding(toLength: 25, withPad: " ", startingAt: 0))  \(String(format: "%6.2f", row.standard))       -       -")
        }
    }
}

struct BenchQuietCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "quiet",
        abstract: "Run the no-anomaly acceptance corpus: every alert it raises is a false alarm.",
        discussion: """
            Generated, not stored: noisy sines of several periods, square and sawtooth waves, a bounded random \
            walk, a duty-cycled motor, slow setpoint ramps, quantised sensors, irregular sampling with short \
            gaps (Detection's QuietCorpus). Each series streams through a fresh detector as `vigil score` does; \
            the exit status is 1 when any alert opens after warm-up.
            """
    )

    @Option(help: "Seed of the generated corpus.")
    var seed: UInt64 = 1

    func run() throws {
        let start = Date()
        let outcomes = QuietCorpus.run(seed: seed)
        let seconds = Date().timeIntervalSince(start)
        var total = 0, readings = 0
        for o in outcomes {
            total += o.alerts.count
            readings += o.readings
            let kinds = Dictionary(grouping: o.alerts, by: \.kind.rawValue).map { "\($0.key) \($0.value.count)" }.sorted()
            let detail = kinds.isEmpty ? "" : " (\(kinds.joined(separator: ", ")))"
            print("  \(o.name.padding(toLength: 46, withPad: " ", startingAt: 0)) \(o.readings) readings, \(o.alerts.count) alerts\(detail)")
        }
        print("no-anomaly corpus (seed \(seed)): \(outcomes.count) series, \(readings) readings, \(total) alerts after warm-up, \(String(format: "%.2f", seconds)) s")
        if total > 0 { throw ExitCode(1) }
    }
}

struct BenchDetectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "detect",
        abstract: "Detector speed on the plant catalog with synthetic readings (build with -c release).",
        discussion: """
            Readings per second on one core for each detector alone and for the full suite, per-reading latency \
            percentiles (each reading timed alone, the timer's cost subtracted; throughput counts this thread's CPU \
            time, so other processes on a shared machine do not count), bytes of state per sensor, and \
            heap allocations per reading after the warm-up. Allocations are counted by re-running this command \
            with libVigilAllocationCounter.so (built beside vigil) preloaded: its malloc/calloc/realloc/memalign \
            family forwards to glibc's __libc_* functions and counts each call while the measured pass runs \
            (see Sources/CAllocationCounter). The agent never loads it.
            """
    )

    @OptionGroup var catalogOptions: CatalogOptions

    @Option(help: "Readings to measure per configuration.")
    var readings = 2_000_000

    func run() throws {
        // First, before any work: this may replace the process with a re-run that counts allocations.
        let counter = AllocationCounting.functions()
        if counter == nil {
            print("note: heap allocations not counted: \(AllocationCounting.rerunWithCounter())")
        }
        let catalog: Catalog
        do { catalog = try Catalog.load(file: catalogOptions.catalog) } catch {
            throw ValidationError("cannot load the catalog: \(error)")
        }
        var bench = DetectorBenchmark(catalog: catalog, readings: readings)
        bench.allocationCounter = counter
        #if DEBUG
        print("warning: a debug build; timings mean little (swift build -c release)")
        #endif
        print("\(catalog.sensors.count) sensors, \(readings) readings per configuration, one core")
        let (rows, bytes) = bench.run()
        print("detector            readings/s   p50 µs   p99 µs  p99.9 µs   max µs  allocs/reading  events  allocs w/o events")
        for r in rows {
            let allocations = r.allocationsPerReading.map { String(format: "%.4f", $0) } ?? "-"
            let quiet = r.allocationsWithoutEvents.map { "\($0) in \(r.readingsWithoutEvents)" } ?? "-"
            print(String(format: "%@ %12.0f %8.3f %8.3f %9.3f %8.1f %15@ %7d  %@",
                         r.name.padding(toLength: 18, withPad: " ", startingAt: 0), r.readingsPerSecond,
                         r.p50, r.p99, r.p999, r.max, allocations, r.events, quiet))
        }
        print("allocs/reading: all heap allocations in the throughput pass (event emission allocates); "
            + "allocs w/o events: allocations during the readings that emitted no event")
        print("state: \(bytes) bytes per sensor (the larger of the two suites: a configured season, or the season search)")
        let steps = DetectorBenchmark.seasonSearchWorstSteps()
        print(String(format: "season search, worst steps (at most one of each per reading): a sweep lag %.0f ns, a window halving %.0f ns",
                     steps.sweepStep, steps.compaction))
        for r in rows where !r.found.isEmpty {
            print("\(r.name): no period and no related sensors in the catalog; \(r.found)")
        }
    }
}
