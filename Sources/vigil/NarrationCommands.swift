import ArgumentParser
import Detection
import Foundation
import Logging
import MicroLM
import Narration
import Telemetry

extension PromptStyle: ExpressibleByArgument {}

/// `vigil explain`: one event through narration, every step shown; or `--eval` over a file of events.
struct ExplainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "explain",
        abstract: "Narrate one event and show each step, or measure narration over a file of events.",
        discussion: """
            The event is a JSON object: an AnomalyEvent as Vigil encodes it, or an alert line as `vigil replay` \
            prints it. `--eval` takes a JSON-lines file of such objects (sensors/narration/events.jsonl).

            Examples:
              vigil explain event.json --verbose
              vigil explain --eval sensors/narration/events.jsonl --examples 10
            """
    )

    @Argument(help: ArgumentHelp("A file holding one event or alert as JSON.", valueName: "event.json"))
    var event: String?

    @Option(help: ArgumentHelp("Evaluate over a JSON-lines file of events.", valueName: "events.jsonl"))
    var eval: String?

    @OptionGroup var catalogOptions: CatalogOptions

    @Option(help: ArgumentHelp("The GGUF model (default: $VIGIL_MODEL, then ./models/SmolLM2-135M-Instruct.Q4_1.gguf).",
                               valueName: "file"))
    var model: String?

    @Flag(help: "Use only the template (no model).")
    var templateOnly = false

    @Option(help: "How the model is asked: few-shot or chat.")
    var style: PromptStyle = .fewShot

    @Flag(help: "Let the model write freely (no constraint on numbers, units and names while generating).")
    var unconstrained = false

    @Option(help: "Threads for the model's kernels.")
    var threads: Int = 2

    @Option(help: "Token budget per alert.")
    var maxTokens: Int = 72

    @Option(help: "Sentence-boundary stop: end at a full stop when the steering pushes the model this many logits off its first choice (negative, as --close-gap=-1: never).")
    var closeGap: Float = 0

    @Option(help: "Backtracking out of dead ends while steering: at most this many undone tokens per alert (0: none).")
    var backtracks: Int = 16

    @Option(help: "With --eval: how many model-written example alerts to print.")
    var examples: Int = 10

    @Option(help: "With --eval: use only every K-th event (a quick subset).")
    var every: Int = 1

    @Option(help: "With --eval: use at most this many events (after --every).")
    var limit: Int?

    @Option(help: ArgumentHelp("With --eval: write each event's result as a JSON line here.", valueName: "file"))
    var results: String?

    @Flag(help: "Show the prompt, and with --eval every event.")
    var verbose = false

    @Option(help: ArgumentHelp("Write training pairs (system, user, reference, kind, stage) for every sensor of the catalog as JSON lines here, and exit.", valueName: "file"))
    var exportPairs: String?

    @Option(help: ArgumentHelp("Write synthetic events (every kind and stage) for every sensor of the catalog as JSON lines here, and exit.", valueName: "file"))
    var exportEvents: String?

    @Option(help: "With --export-pairs or --export-events: the seed of the generator.")
    var seed: UInt64 = 1

    @Option(help: "With --export-pairs or --export-events: events per (sensor, kind, stage).")
    var variants: Int = 3

    @Option(help: "With --export-pairs or --export-events: incidents (a first-out event and those that followed) to add.")
    var incidents: Int = 0

    @Option(help: "With --eval: print this many delivered texts next to their templates.")
    var sideBySide: Int = 0

    @Flag(help: "Use the tuned prompt (no few-shot prefix), as for a model with a narration adapter.")
    var tuned = false

    @Option(help: ArgumentHelp("A LoRA narration adapter (GGUF) to apply on top of the model, e.g. models/vigil-narration-lora.gguf; use with --tuned, the prompt it was trained for.", valueName: "file"))
    var adapter: String?

    func validate() throws {
        if exportPairs != nil || exportEvents != nil {
            if variants < 1 || variants > 50 { throw ValidationError("--variants must be between 1 and 50.") }
            return
        }
        if (event == nil) == (eval == nil) {
            throw ValidationError("Give either one event file or --eval <events.jsonl>.")
        }
        if threads < 1 || threads > 64 { throw ValidationError("--threads must be between 1 and 64.") }
        if maxTokens < 8 || maxTokens > 512 { throw ValidationError("--max-tokens must be between 8 and 512.") }
        if every < 1 { throw ValidationError("--every must be at least 1.") }
        if let limit, limit < 1 { throw ValidationError("--limit must be at least 1.") }
    }

    func run() async throws {
        let logger = Logger(label: "vigil.explain")
        let catalog: Catalog
        do { catalog = try Catalog.load(file: catalogOptions.catalog) } catch {
            throw ValidationError("Cannot load the catalog \(catalogOptions.catalog): \(error)")
        }
        let unitProblems = Sanitizer.catalogProblems(catalog)
        if !unitProblems.isEmpty {
            throw ValidationError("The catalog \(catalogOptions.catalog) has units alerts cannot carry:\n  "
                + unitProblems.joined(separator: "\n  "))
        }
        if let exportPairs {
            let result = TrainingPairs.build(catalog: catalog, seed: seed, variants: variants, incidents: incidents)
            try write(TrainingPairs.jsonLines(result.pairs), to: exportPairs)
            print("\(result.pairs.count) training pairs written to \(exportPairs)"
                + (result.rejected.isEmpty ? "" : "; \(result.rejected.count) events left out (no reference passed the verifier)"))
            for id in result.rejected.prefix(10) { print("  left out: \(id)") }
            return
        }
        if let exportEvents {
            var generator = SyntheticEvents(catalog: catalog, seed: seed, variants: variants)
            let lines = try (generator.all() + generator.incidents(count: incidents).flatMap { $0 }).map(EventFile.encode)
            try write(lines.joined(separator: "\n") + "\n", to: exportEvents)
            print("\(lines.count) events written to \(exportEvents)")
            return
        }
        let narrationModel = try loadModel(logger: logger)
        let configuration = NarrationConfiguration(maxTokens: maxTokens, promptStyle: tuned ? .tuned : style,
                                                   constrained: !unconstrained, forcedStart: !tuned,
                                                   closeGap: closeGap < 0 ? nil : closeGap, backtracks: max(0, backtracks))
        let narrator = Narrator(catalog: catalog, model: narrationModel, configuration: configuration, logger: logger)

        if let eval {
            try await evaluate(narrator, file: eval)
            return
        }
        guard let event, let data = FileManager.default.contents(atPath: event),
              let text = String(data: data, encoding: .utf8) else {
            throw ValidationError("Cannot read \(event ?? "the event file").")
        }
        let parsed: AnomalyEvent
        do { parsed = try EventFile.decode(text) } catch { throw ValidationError("\(event): \(error)") }
        let x = await narrator.explain(parsed, deadline: nil)
        print("Facts")
        print("  " + PromptBuilder.factLine(x.facts).replacingOccurrences(of: " | ", with: "\n  "))
        if verbose, let prompt = x.prompt {
            print("\nPrompt (\(prompt.prefix.count) characters shared, \(prompt.suffix.count) for this event)")
            print(prompt.text)
        }
        if let modelText = x.modelText {
            print("\nModel text (\(x.completion.map { "\($0.tokens) tokens, stopped by \($0.stop.rawValue)" } ?? ""))")
            print("  " + modelText)
        }
        if let verdict = x.verdict {
            print("\nVerifier: " + (verdict.accepted ? "accepted" : "rejected"))
            for p in verdict.problems { print("  - " + p) }
        }
        let n = x.narrative
        print("\nNarrative (\(n.source.rawValue)\(n.reason.map { ": " + $0 } ?? ""))")
        print("  " + n.text)
        print("\nLatency: \(String(format: "%.1f", n.latencyMs)) ms" + (n.model.map { " (\($0))" } ?? ""))
    }

    private func loadModel(logger: Logger) throws -> (any NarrationModel)? {
        if templateOnly { return nil }
        let path = model ?? (try? ModelLocator().resolve())
        guard let path else {
            FileHandle.standardError.write(Data("note: no model found; narrating with the template only\n".utf8))
            return nil
        }
        return try ModelLoading.load(path: path, adapter: adapter, threads: threads, logger: logger)
    }

    private func evaluate(_ narrator: Narrator, file: String) async throws {
        var events: [AnomalyEvent]
        do { events = try EventFile.read(file: file) } catch { throw ValidationError("\(error)") }
        events = events.enumerated().filter { $0.offset % every == 0 }.map(\.element)
        if let limit { events = Array(events.prefix(limit)) }
        guard !events.isEmpty else { throw ValidationError("\(file) holds no events.") }
        // The shared prompt prefix is computed ahead, as the narration worker does when it starts.
        let prepared = ContinuousClock.now
        await narrator.prepare()
        let prepareMs = prepared.duration(to: .now) / .milliseconds(1)
        let report = await narrator.evaluate(events)
        if let results { try writeResults(report, to: results) }

        let n = report.count
        func pct(_ k: Int, of total: Int) -> String {
            total == 0 ? "-" : String(format: "%d/%d (%.1f %%)", k, total, 100 * Double(k) / Double(total))
        }
        var kinds: [String: Int] = [:]
        var assets = Set<String>()
        for e in events { kinds[e.kind.rawValue, default: 0] += 1; assets.insert(e.asset) }
        print("Events: \(n) (\(kinds.count) kinds, \(assets.count) assets) from \(file)"
            + (every > 1 || limit != nil ? " (subset: every \(every), limit \(limit.map(String.init) ?? "none"))" : ""))
        print("Model: \(narrator.model?.name ?? "none (template only)"), prompt \(narrator.configuration.promptStyle.rawValue), "
            + (narrator.configuration.constrained ? "constrained" : "unconstrained"))
        print("Model text accepted by the verifier: \(pct(report.modelAccepted, of: n))")
        print("Accepted text naming the right sensor and direction: \(pct(report.rightSensorAndDirection, of: report.modelAccepted))")
        print("Delivered text failing the verifier (invented numbers or names): \(report.unverifiedDelivered)")
        if !report.reasons.isEmpty {
            print("Template reasons:")
            for r in report.reasons.prefix(12) { print("  \(r.count)\t\(r.reason)") }
        }
        // Every problem of the rejected model texts (a dead end is "does not end with a full stop" first;
        // what blocked it comes after).
        var problems: [String: Int] = [:]
        for r in report.rows where r.explanation.narrative.source == .template {
            for p in r.explanation.verdict?.problems ?? [] { problems[EvaluationReport.bucket(p), default: 0] += 1 }
        }
        if !problems.isEmpty {
            print("Problems in rejected model text (all of them):")
            for (p, k) in problems.sorted(by: { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }).prefix(12) {
                print("  \(k)\t\(p)")
            }
        }
        let stops = report.rows.compactMap { $0.explanation.completion?.stop.rawValue }
        var stopCounts: [String: Int] = [:]
        for s in stops { stopCounts[s, default: 0] += 1 }
        print("Model stopped by: " + stopCounts.sorted { $0.value > $1.value }.map { "\($0.key) \($0.value)" }
            .joined(separator: ", "))
        let lat = report.latenciesMs
        let prefix = PromptBuilder.sharedPrefix(style: narrator.configuration.promptStyle)
        let prefixTokens = (narrator.model as? MicroLMNarrationModel)?.prefixTokenCount(prefix)
        print(String(format: "Latency: median %.0f ms, p95 %.0f ms, max %.0f ms",
                     EvaluationReport.percentile(lat, 50), EvaluationReport.percentile(lat, 95), lat.last ?? 0)
            + " (shared prefix" + (prefixTokens.map { " of \($0) tokens" } ?? "")
            + String(format: " prepared in %.0f ms at start)", prepareMs))
        print("Load average at the end: " + Self.loadAverage())
        var byKind: [String: (Int, Int)] = [:]
        for r in report.rows {
            var v = byKind[r.event.kind.rawValue] ?? (0, 0)
            v.0 += 1
            if r.explanation.narrative.source == .model { v.1 += 1 }
            byKind[r.event.kind.rawValue] = v
        }
        print("Accepted by kind: " + byKind.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value.1)/\($0.value.0)" }
            .joined(separator: ", "))
        printBreakdown(report, title: "")
        let groups = SyntheticEvents.regroup(events).filter { $0.count >= 2 }
        var incidentReport: EvaluationReport?
        if !groups.isEmpty {
            let r = await narrator.evaluateIncidents(groups)
            incidentReport = r
            print("\nIncidents (2+ events of one asset, one text each): \(r.count)")
            print("Model text accepted by the verifier: \(pct(r.modelAccepted, of: r.count))")
            print("Delivered text failing the verifier: \(r.unverifiedDelivered)")
            let il = r.latenciesMs
            print(String(format: "Latency: median %.0f ms, p95 %.0f ms", EvaluationReport.percentile(il, 50),
                         EvaluationReport.percentile(il, 95)))
            printBreakdown(r, title: "incident ")
        }
        if sideBySide > 0 {
            print("\nDelivered text next to the template (model-written first, then incidents):")
            let rows = report.rows.filter { $0.explanation.narrative.source == .model }
            var picked: [EvaluationReport.Row] = []
            var seen = Set<String>()
            for r in rows where seen.insert("\(r.event.kind.rawValue)|\(r.event.stage.rawValue)").inserted { picked.append(r) }
            for r in rows where picked.count < sideBySide && !picked.contains(where: { $0.event.id == r.event.id }) {
                picked.append(r)
            }
            let incidentRows = (incidentReport?.rows ?? []).filter { $0.explanation.narrative.source == .model }
            for (n, r) in (picked.prefix(sideBySide) + incidentRows.prefix(max(0, sideBySide / 4))).enumerated() {
                let x = r.explanation
                print("\(n + 1). [\(x.facts.incident == nil ? r.event.kind.rawValue : "incident") \(r.event.stage.rawValue)] \(r.event.id)")
                print("   facts:    " + PromptBuilder.factLine(x.facts))
                print("   model:    " + x.narrative.text)
                print("   template: " + TemplateNarrator.narrate(x.facts))
            }
        }
        let shown = report.rows.filter { $0.explanation.narrative.source == .model }
        if examples > 0 && !shown.isEmpty {
            print("\nExamples (model-written):")
            // Spread over kinds: one per kind first, then the rest in order.
            var picked: [EvaluationReport.Row] = []
            var seen = Set<String>()
            for r in shown where seen.insert(r.event.kind.rawValue).inserted { picked.append(r) }
            for r in shown where picked.count < examples && !picked.contains(where: { $0.event.id == r.event.id }) {
                picked.append(r)
            }
            for r in picked.prefix(examples) {
                print("- facts: " + PromptBuilder.factLine(r.explanation.facts))
                print("  alert: " + r.explanation.narrative.text)
            }
        }
        if verbose {
            print("\nAll events:")
            for r in report.rows {
                let x = r.explanation
                print("\(r.event.id) [\(x.narrative.source.rawValue)] \(x.narrative.text)")
                if x.narrative.source == .template, let m = x.modelText { print("    model: \(m)\n    why: \(x.narrative.reason ?? "")") }
                let recheck = Verifier(facts: x.facts).verify(x.narrative.text)
                if !recheck.accepted { print("    FAILS THE VERIFIER: \(recheck.problems)") }
            }
        }
    }

    /// Acceptance by kind and stage, and the verifier's problems by class: in rejected model text (what the
    /// verifier caught) and in delivered text (must be none).
    private func printBreakdown(_ report: EvaluationReport, title: String) {
        var byKindStage: [String: (Int, Int)] = [:]
        var caught: [String: Int] = [:]
        var delivered: [String: Int] = [:]
        for r in report.rows {
            let key = "\(r.explanation.facts.incident == nil ? r.event.kind.rawValue : "incident")/\(r.event.stage.rawValue)"
            var v = byKindStage[key] ?? (0, 0)
            v.0 += 1
            if r.explanation.narrative.source == .model { v.1 += 1 }
            byKindStage[key] = v
            if r.explanation.narrative.source == .template {
                for p in Set((r.explanation.verdict?.problems ?? []).map(EvaluationReport.problemClass)) { caught[p, default: 0] += 1 }
            }
            for p in Set(Verifier(facts: r.explanation.facts).verify(r.explanation.narrative.text).problems
                .map(EvaluationReport.problemClass)) {
                delivered[p, default: 0] += 1
            }
        }
        print("\(title.capitalized)Model text accepted by kind/stage: " + byKindStage.sorted { $0.key < $1.key }
            .map { "\($0.key) \($0.value.1)/\($0.value.0)" }.joined(separator: ", "))
        print("\(title.capitalized)Errors caught in rejected model text, by class (texts): "
            + (caught.isEmpty ? "none" : caught.sorted { $0.value > $1.value }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")))
        print("\(title.capitalized)Hard errors in delivered text, by class: "
            + (delivered.isEmpty ? "none" : delivered.sorted { $0.value > $1.value }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")))
    }

    private func write(_ text: String, to path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8)) else {
            throw ValidationError("Cannot write \(path).")
        }
    }

    static func loadAverage() -> String {
        guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return "unknown" }
        return text.split(separator: " ").prefix(3).joined(separator: " ")
    }

    private func writeResults(_ report: EvaluationReport, to path: String) throws {
        struct Line: Encodable {
            var event_id: String
            var kind: String
            var facts: String
            var model_text: String?
            var problems: [String]
            var stop: String?
            var right_sensor_direction: Bool
            var narrative: Narrative
            var template: String
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var out = Data()
        for r in report.rows {
            let x = r.explanation
            out += try encoder.encode(Line(event_id: r.event.id, kind: r.event.kind.rawValue,
                                           facts: PromptBuilder.factLine(x.facts), model_text: x.modelText,
                                           problems: x.verdict?.problems ?? [], stop: x.completion?.stop.rawValue,
                                           right_sensor_direction: x.narrative.source == .model
                                               && (x.verdict?.namesSensor ?? false) && (x.verdict?.rightDirection ?? false)
                                               && EvaluationReport.statesSensorAndDirection(x.narrative.text, facts: x.facts),
                                           narrative: x.narrative, template: TemplateNarrator.narrate(x.facts)))
            out += Data("\n".utf8)
        }
        guard FileManager.default.createFile(atPath: path, contents: out) else {
            throw ValidationError("Cannot write \(path).")
        }
    }
}

/// `vigil collect-events`: replays recordings through the plant detector and writes every event as a
/// JSON line (windows left out) — how sensors/narration/events.jsonl was made.
struct CollectEventsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "collect-events",
        abstract: "Replay recordings through the detector and write their events as JSON lines (evaluation sets).",
        shouldDisplay: false
    )

    @Argument(help: ArgumentHelp("Recordings (wide CSV).", valueName: "recording"))
    var recordings: [String]

    @OptionGroup var catalogOptions: CatalogOptions

    @Option(name: .shortAndLong, help: ArgumentHelp("Where to write the events.", valueName: "file"))
    var out: String

    @Option(help: "Keep at most this many events per (sensor, kind, stage).")
    var perSensorKind: Int = 3

    @Flag(help: "For kinds the detector never produced, derive a few events from similar ones (id prefix `derived-`): oscillation from volatility shifts, seasonal from level shifts.")
    var deriveMissingKinds = false

    @Flag(help: "Keep resolved events too (by default only opened events, which are what the model narrates).")
    var resolved = false

    func run() throws {
        let catalog: Catalog
        do { catalog = try Catalog.load(file: catalogOptions.catalog) } catch {
            throw ValidationError("Cannot load the catalog \(catalogOptions.catalog): \(error)")
        }
        var lines: [String] = []
        var all: [AnomalyEvent] = []
        var kept: [String: Int] = [:]
        for path in recordings {
            let reader: RecordingReader
            do { reader = try RecordingReader(path: path) } catch { throw ValidationError("\(path): \(error)") }
            let columnIndex = reader.columns.map { catalog.index(of: SensorID($0)) }
            let detector = PlantDetector(catalog: catalog)
            var events: [AnomalyEvent] = []
            var found: [AnomalyEvent] = []
            var lastT: Int64 = .min
            let name = path.split(separator: "/").last.map(String.init) ?? path
            while let item = reader.next() {
                guard case .sample(let column, let t, let value) = item else { continue }
                if t != lastT { detector.advance(to: t, events: &events); lastT = t }
                if column < columnIndex.count, let i = columnIndex[column] {
                    _ = detector.ingest(sensor: i, timestamp: t, value: value, events: &events)
                }
                found += events
                events.removeAll(keepingCapacity: true)
            }
            for var e in found where resolved || e.stage == .opened {
                let key = "\(e.sensor)|\(e.kind.rawValue)|\(e.stage.rawValue)"
                guard kept[key, default: 0] < perSensorKind else { continue }
                kept[key, default: 0] += 1
                e.id = "\(name.split(separator: ".").first ?? "rec")-\(e.id)"
                e.window = []
                all.append(e)
                lines.append(try EventFile.encode(e))
            }
            FileHandle.standardError.write(Data("\(path): \(found.count) events\n".utf8))
        }
        if deriveMissingKinds {
            let present = Set(all.map(\.kind))
            for (missing, source) in [(AnomalyKind.oscillation, AnomalyKind.volatilityShift), (.seasonal, .levelShift)]
            where !present.contains(missing) {
                for var e in all.filter({ $0.kind == source }).prefix(5) {
                    e.kind = missing
                    e.id = "derived-\(missing.rawValue)-" + e.id
                    lines.append(try EventFile.encode(e))
                }
            }
        }
        let text = lines.joined(separator: "\n") + "\n"
        guard FileManager.default.createFile(atPath: out, contents: Data(text.utf8)) else {
            throw ValidationError("Cannot write \(out).")
        }
        print("\(lines.count) events written to \(out)")
    }
}
