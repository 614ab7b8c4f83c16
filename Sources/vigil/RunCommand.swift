import Agent
import ArgumentParser
import Foundation
import Logging
import Metrics
import Prometheus
import Telemetry

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the agent against the plant's brokers.",
        discussion: """
            Connects to the local broker named in the configuration, ingests the catalog's sensor \
            topics, detects anomalies, narrates them and publishes alerts (vigil/<agent>/alerts/...), \
            active alarms (retained) and its status (retained; last will `offline`). With an \
            upstream link, distilled events go upstream through the SQLite outbox. Stops cleanly on \
            SIGTERM or SIGINT. Check a configuration first with `vigil check-config`.
            """
    )

    @Option(name: .shortAndLong, help: ArgumentHelp("The configuration file (YAML).", valueName: "file"))
    var config: String = "/etc/vigil/vigil.yaml"

    func run() async throws {
        let configuration = try AgentConfiguration.load(file: config)
        let registry = PrometheusCollectorRegistry()
        Bootstrap.logging(level: configuration.logLevel, format: configuration.logFormat)
        let logger = Logger(label: "vigil")
        let catalog = try configuration.loadCatalog()
        try configuration.validate(catalog: catalog)
        let loaded = AgentModel.load(configuration: configuration, logger: logger)
        try await LiveAgent(configuration: configuration, catalog: catalog, model: loaded.model, registry: registry,
                            logger: logger, provenance: loaded.provenance, refusedBundles: loaded.refused).run()
    }
}

struct CheckConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-config",
        abstract: "Check a configuration file (and its catalog and model) without running.",
        discussion: "Exits 0 and prints a summary when everything loads; otherwise prints what is wrong, where, and what was expected."
    )

    @Argument(help: ArgumentHelp("The configuration file (YAML).", valueName: "file"))
    var config: String = "/etc/vigil/vigil.yaml"

    func run() throws {
        let c = try AgentConfiguration.load(file: config)
        let catalog = try c.loadCatalog()
        try c.validate(catalog: catalog)
        let model = try AgentModel.check(configuration: c)
        print("\(config): OK")
        print("  agent      \(c.agentName) (topics under \(c.topicPrefix)/\(c.agentName)/)")
        print("  catalog    \(c.catalogPath): \(catalog.assets.count) assets, \(catalog.sensors.count) sensors, site \(catalog.site)")
        print("  local      \(c.local.brokerURL) as \(c.local.clientID ?? "?"), MQTT \(c.local.protocolVersion.rawValue)")
        if let up = c.upstream {
            print("  upstream   \(up.brokerURL); outbox \(c.outbox.path) (max \(c.outbox.maxRows) rows, \(c.outbox.fullPolicy.rawValue))")
        } else {
            print("  upstream   off")
        }
        if c.narrationEnabled {
            let status = model.map { c.narrationBundles == nil ? "model \($0) (SHA-256 checked)" : $0 } ?? AgentModel.describe(configuration: c)
            print("  narration  \(status), deadline \(c.narrationDeadline) s, queue \(c.narrationQueue)")
        } else {
            print("  narration  templates only (narration.enabled: false)")
        }
        if c.detectorState.persist {
            let every = c.detectorState.saveInterval > 0 ? "every \(String(format: "%g", c.detectorState.saveInterval)) s and on shutdown" : "on shutdown"
            print("  detector   state \(c.detectorState.path), restored at start, saved \(every)")
        } else {
            print("  detector   state not kept (detector.persist_state: false): every start is a new warm-up")
        }
        print("  metrics    \(c.metricsListen.map { "http://\($0)/metrics" } ?? "off")")
    }
}
