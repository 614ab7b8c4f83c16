import Agent
import Foundation
import Logging
import Testing
import VigilTestSupport

/// Issue #14: `/metrics` passes `promtool check metrics` (HELP and TYPE for every family, valid
/// names), counters are counters, and the dashboard reads counters with increase()/rate().
@Suite struct MetricsExpositionTests {
    let root = RepositoryPaths.root()

    /// The agent's exposition after building (not running) its services, with an upstream outbox so
    /// its metrics are there too.
    func exposition() async throws -> String {
        let directory = try TemporaryDirectory(prefix: "vigil-metrics")
        defer { directory.remove() }
        let config = try AgentConfiguration.parse(yaml: """
            version: 1
            agent: {name: metrics, catalog: \(root)/sensors/plant.yaml, state_dir: \(directory.path)}
            local: {url: "mqtt://127.0.0.1:1"}
            upstream: {url: "mqtt://127.0.0.1:1"}
            narration: {enabled: false}
            """)
        let agent = LiveAgent(configuration: config, catalog: try config.loadCatalog(), model: nil, logger: Logger(label: "test"))
        _ = try await agent.makeServiceGroup(signals: false)
        return String(decoding: agent.metricsExposition, as: UTF8.self)
    }

    struct Family {
        var help: String?
        var type: String?
        var samples = 0
    }

    static func isValidName(_ name: Substring) -> Bool {
        guard let first = name.first, first.isASCII, first.isLetter || first == "_" || first == ":" else { return false }
        return name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == ":") }
    }

    static func parse(_ text: String) -> [String: Family] {
        var families: [String: Family] = [:]
        for line in text.split(separator: "\n") {
            if line.hasPrefix("# HELP ") || line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ", maxSplits: 3)
                let name = String(parts[2])
                let rest = parts.count > 3 ? String(parts[3]) : ""
                #expect(isValidName(parts[2]), "invalid metric name \(name)")
                if line.hasPrefix("# HELP ") {
                    #expect(families[name]?.help == nil, "two HELP lines for \(name)")
                    families[name, default: Family()].help = rest
                } else {
                    #expect(families[name]?.type == nil, "two TYPE lines for \(name)")
                    #expect(families[name]?.samples ?? 0 == 0, "TYPE of \(name) after its samples")
                    families[name, default: Family()].type = rest
                }
                continue
            }
            if line.hasPrefix("#") { continue }
            let name = line.prefix { $0 != "{" && $0 != " " }
            #expect(isValidName(name), "invalid sample name in \(line)")
            var family = String(name)
            for suffix in ["_bucket", "_sum", "_count"] where family.hasSuffix(suffix) && families[family] == nil {
                family.removeLast(suffix.count)
            }
            #expect(families[family]?.type != nil, "sample of \(family) without a TYPE line")
            families[family, default: Family()].samples += 1
        }
        return families
    }

    @Test func everyFamilyHasHelpAndTypeAndCountersAreCounters() async throws {
        let families = Self.parse(try await exposition())
        #expect(families.count >= 25)
        for (name, family) in families.sorted(by: { $0.key < $1.key }) {
            let help = try #require(family.help, "\(name) has no HELP line")
            #expect(!help.isEmpty && help != "Vigil metric \(name).", "\(name) has no help text of its own")
            let type = try #require(family.type, "\(name) has no TYPE line")
            #expect(["counter", "gauge", "histogram", "summary", "untyped"].contains(type), "\(name): TYPE \(type)")
            if name.hasSuffix("_total") { #expect(type == "counter", "\(name) ends with _total but is a \(type)") }
            if type == "counter" { #expect(name.hasSuffix("_total"), "counter \(name) does not end with _total") }
        }
        // Running totals are counters now, not gauges that a restart turns negative in delta().
        for name in ["vigil_mqtt_received_total", "vigil_mqtt_reconnects_total", "vigil_mqtt_inbound_dropped_total", "vigil_mqtt_rate_limited_total",
                     "vigil_outbox_sent_total", "vigil_outbox_dropped_total", "vigil_outbox_corrupt_files_moved_total"] {
            #expect(families[name]?.type == "counter", "\(name) is not exposed as a counter")
        }
    }

    @Test func theDashboardReadsCountersWithIncreaseOrRate() async throws {
        let families = Self.parse(try await exposition())
        let text = try String(contentsOfFile: root + "/deploy/dashboards/grafana-vigil.json", encoding: .utf8)
        let dashboard = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        let panels = try #require(dashboard["panels"] as? [[String: Any]])
        let expressions = panels.flatMap { ($0["targets"] as? [[String: Any]] ?? []).compactMap { $0["expr"] as? String } }
        let pattern = try NSRegularExpression(pattern: "(\\w+\\()?(vigil_[a-z_]+)")
        for e in expressions {
            #expect(!e.contains("delta("), "delta() on a counter goes negative after a restart: \(e)")
            for m in pattern.matches(in: e, range: NSRange(e.startIndex..., in: e)) {
                guard let nameRange = Range(m.range(at: 2), in: e) else { continue }
                let name = String(e[nameRange])
                let function = Range(m.range(at: 1), in: e).map { String(e[$0]) }
                guard families[name]?.type == "counter" else { continue }
                #expect(function == "increase(" || function == "rate(", "counter \(name) read without increase()/rate(): \(e)")
            }
        }
    }

    /// `promtool check metrics` (Debian's `prometheus` package) on the real exposition, where installed.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/promtool"), "promtool is not installed"))
    func promtoolChecksTheExposition() async throws {
        let text = try await exposition()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/promtool")
        process.arguments = ["check", "metrics"]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = output
        try process.run()
        input.fileHandleForWriting.write(Data(text.utf8))
        try input.fileHandleForWriting.close()
        let report = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "promtool check metrics: \(report)")
    }
}
