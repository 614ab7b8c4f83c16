import Detection
import Foundation
import Logging
import Metrics
import MQTT
import Narration
import Outbox
import Prometheus
import ServiceLifecycle
import Telemetry

/// `vigil run`: the agent in production. Builds the services from the configuration and runs them
/// in one `ServiceGroup` that stops gracefully on SIGTERM or SIGINT: readings stop first, queued
/// narrations finish, their alerts are published, the status turns offline, the links close, and the
/// outbox closes last — nothing accepted is lost.
public struct LiveAgent {
    public let configuration: AgentConfiguration
    public let catalog: Catalog
    public let model: (any NarrationModel)?
    /// Where the model came from (the status message and `vigil_model_info`); nil: none or unknown.
    public let provenance: ModelProvenance?
    /// The model bundles refused at start, with their reasons (`vigil_model_bundle_refused_total`).
    public let refusedBundles: [(id: String, reason: String)]
    public let registry: PrometheusCollectorRegistry
    public let logger: Logger
    let pipeline: SharedPipeline

    /// Readings accepted by the pipeline so far.
    public var ingestedReadings: Int { pipeline.withLock { $0.statistics.readings } }

    /// `model` is the loaded language model, or nil for template narration; `registry` the metrics
    /// registry behind /metrics (nil: a private one).
    public init(configuration: AgentConfiguration, catalog: Catalog, model: (any NarrationModel)?,
                registry: PrometheusCollectorRegistry? = nil, logger: Logger,
                provenance: ModelProvenance? = nil, refusedBundles: [(id: String, reason: String)] = []) {
        self.configuration = configuration
        self.catalog = catalog
        self.model = model
        self.provenance = model == nil ? nil : provenance
        self.refusedBundles = refusedBundles
        self.registry = registry ?? PrometheusCollectorRegistry()
        self.logger = logger
        let pipeline = Pipeline(catalog: catalog, decoder: PayloadDecoder(maximumSize: configuration.maxPayloadBytes))
        pipeline.maximumFutureSkew = Int64(configuration.maxFutureSkew * 1000)
        pipeline.maximumAge = Int64(configuration.maxAge * 1000)
        self.pipeline = SharedPipeline(pipeline)
    }

    public var topics: AgentTopics {
        AgentTopics(prefix: configuration.topicPrefix, agent: configuration.agentName, site: catalog.site,
                    upstreamEvents: configuration.upstreamTopic)
    }

    /// Runs until a termination signal (or cancellation).
    public func run() async throws {
        let group = try await makeServiceGroup(signals: true)
        try await group.run()
        logger.info("vigil stopped")
    }

    /// The agent's services in one group; `signals` makes SIGTERM/SIGINT start a graceful shutdown
    /// (tests leave it off and call `triggerGracefulShutdown()`).
    /// Whether the detector holds the sensor at `index` (catalog order) abnormal now.
    public func isAbnormal(sensor index: Int) -> Bool {
        pipeline.withLock { $0.detector.isAbnormal(sensor: index) }
    }

    public func makeServiceGroup(signals: Bool) async throws -> ServiceGroup {
        let config = configuration
        let topics = self.topics
        let metrics = AgentMetrics(factory: PrometheusMetricsFactory(registry: registry))
        // Before any reading: restores the detector's learned state, or moves an unusable file aside.
        var detectorState = makeDetectorStateService(factory: PrometheusMetricsFactory(registry: registry))
        let health = HealthBoard()
        detectorState?.health = health
        let counters = AgentCounters()
        // What the restored state has open: the retained alarms and upstream incidents to reconcile.
        let openAtStart = pipeline.withLock { $0.detector.openEvents }
        let alarms = ActiveAlarms(ActiveAlarms.restored(openAtStart, catalog: catalog, agent: config.agentName))
        let retainedAlarms = RetainedAlarmCollector(prefix: topics.active(sensor: ""))
        let factory = PrometheusMetricsFactory(registry: registry)
        if config.narrationEnabled, let p = provenance {
            Gauge(label: "vigil_model_info", dimensions: [("name", p.name), ("version", p.version), ("source", p.source)],
                  factory: factory).record(1)
        }
        for refused in refusedBundles {
            Counter(label: "vigil_model_bundle_refused_total", dimensions: [("reason", refused.reason)], factory: factory).increment()
        }

        let offline = AgentStatus(agent: config.agentName, state: "offline", version: VigilVersion.string,
                                  model: model?.name, modelBundle: provenance).jsonBytes()
        var localConfig = config.local
        localConfig.will = MQTTWill(topic: topics.status, payload: offline, qos: .atLeastOnce, retain: true)
        localConfig.subscriptionSilenceTimeout = config.silentAfter > 0 ? .milliseconds(Int64(config.silentAfter * 1000)) : nil
        localConfig.perTopicRateLimit = config.maxRatePerTopic > 0 ? MQTTRateLimit(messagesPerSecond: config.maxRatePerTopic, burst: max(1, Int(config.maxRatePerTopic * 5))) : nil
        let local = try MQTTClient(configuration: localConfig, logger: logger.with(label: "vigil.mqtt.local"))
        warnIfInsecure(config.local)

        let shared = pipeline

        // With the narration adapter, the prompt it was trained on.
        var narration = AgentNarration.configuration(tuned: model != nil && (config.narrationAdapter != nil || provenance?.tuned == true))
        narration.deadline = .milliseconds(Int64(config.narrationDeadline * 1000))
        narration.queueCapacity = config.narrationQueue
        let escalator = config.narrationEnabled ? config.narrationEscalation.map { OpenAIChatEscalator(settings: $0, factory: factory) } : nil
        let narrator = Narrator(catalog: catalog, model: config.narrationEnabled ? model : nil,
                                configuration: narration, logger: logger.with(label: "vigil.narration"), escalator: escalator)
        let worker = NarrationWorker(narrator: narrator, mode: .live, logger: logger.with(label: "vigil.narration"))
        var driftSettings = config.narrationDrift
        driftSettings.maxLatencyP95 = driftSettings.maxLatencyP95 ?? config.narrationDeadline
        let drift = NarrationDriftWatch(drift: NarrationDrift(settings: driftSettings),
                                        metrics: NarrationDriftMetrics(factory: factory))

        var upstream: MQTTClient?
        var outbox: Outbox?
        if let up = config.upstream {
            var upstreamConfiguration = up
            // Room in libmosquitto for every message the outbox keeps in flight.
            upstreamConfiguration.maxInflightMessages = max(upstreamConfiguration.maxInflightMessages,
                                                            min(config.outbox.maxInFlight, 65_535))
            upstream = try MQTTClient(configuration: upstreamConfiguration, logger: logger.with(label: "vigil.mqtt.upstream"))
            warnIfInsecure(up)
            try FileManager.default.createDirectory(
                atPath: URL(fileURLWithPath: config.outbox.path).deletingLastPathComponent().path,
                withIntermediateDirectories: true)
            outbox = try await Outbox.open(configuration: config.outbox, logger: logger.with(label: "vigil.outbox"))
        }
        if let outbox { await recordOutboxSchema(outbox, factory: PrometheusMetricsFactory(registry: registry)) }

        var services: [any Service] = []
        if let outbox, let upstream {
            // Before the outbox, so it stops after it (the outbox ends when the upstream link closes).
            services.append(OutboxHealthService(outbox: outbox, health: health))
            services.append(OutboxService(outbox: outbox, upstream: upstream, logger: logger.with(label: "vigil.outbox")))
            services.append(UpstreamLinkService(client: upstream, logger: logger.with(label: "vigil.mqtt.upstream")))
        }
        services.append(LocalLinkService(client: local, topics: catalog.subscriptionTopics,
                                         silentAfter: localConfig.subscriptionSilenceTimeout, logger: logger))
        services.append(AlarmReconcileService(
            client: local, alarms: alarms, collector: retainedAlarms,
            cleared: Counter(label: "vigil_reconciled_alarms_total", dimensions: [("action", "cleared")], factory: factory),
            republished: Counter(label: "vigil_reconciled_alarms_total", dimensions: [("action", "republished")], factory: factory),
            logger: logger.with(label: "vigil.alarms")))
        services.append(StatusService(client: local, outbox: outbox, topics: topics,
                                      interval: .milliseconds(Int64(config.statusInterval * 1000)),
                                      model: config.narrationEnabled ? model?.name : nil,
                                      provenance: config.narrationEnabled ? provenance : nil,
                                      drift: config.narrationEnabled ? drift : nil, pipeline: shared,
                                      worker: worker, counters: counters, metrics: metrics, upstream: upstream, logger: logger))
        services.append(PublisherService(
            client: local, worker: worker, outbox: outbox, catalog: catalog, topics: topics,
            metrics: metrics, counters: counters, logger: logger, alarms: alarms,
            incidentFile: outbox == nil ? nil : UpstreamIncidentFile(besideOutbox: config.outbox.path),
            openAtStart: openAtStart,
            reconciledIncidents: outbox == nil ? nil : Counter(label: "vigil_reconciled_incidents_total", dimensions: [], factory: factory),
            drift: drift))
        services.append(NarrationService(worker: worker))
        // Listed before ingest, so it stops after it: the state saved on shutdown holds every reading.
        if let detectorState { services.append(detectorState) }
        services.append(IngestService(client: local, pipeline: shared, worker: worker, metrics: metrics,
                                      retainedAlarms: retainedAlarms, logger: logger))
        if let listen = config.metricsListen {
            services.append(MetricsService(listen: listen, registry: registry, local: local, logger: logger, health: health))
        }
        // Last: the first to hear of a shutdown, so systemd learns of it at once.
        let readings = pipeline
        services.append(SystemdNotifierService(
            notifier: SystemdNotifier(environment: ProcessInfo.processInfo.environment),
            status: {
                let count = readings.withLock { $0.statistics.readings }
                return "\(local.isConnected ? "connected" : "waiting for the local broker"); \(count) readings"
            },
            logger: logger.with(label: "vigil.systemd")))

        logger.info("vigil starting", metadata: [
            "agent": "\(config.agentName)", "version": "\(VigilVersion.string)", "sensors": "\(catalog.sensors.count)",
            "model": "\(config.narrationEnabled ? (model?.name ?? "none (template)") : "disabled")",
            "upstream": "\(config.upstream.map { "\($0.host):\($0.port)" } ?? "off")",
        ])
        return .inShutdownOrder(services, signals: signals, logger: logger.with(label: "vigil.services"))
    }

    private func warnIfInsecure(_ broker: MQTTConfiguration) {
        if broker.tls?.insecure == true {
            logger.critical("TLS certificate and host-name checks are OFF for this broker (tls.insecure: true); use this for testing only",
                            metadata: ["host": "\(broker.host)"])
        }
    }
}

/// Runs the narration worker; on graceful shutdown it finishes the queued narrations first.
struct NarrationService: Service {
    let worker: NarrationWorker

    func run() async throws {
        await withGracefulShutdownHandler {
            await worker.run()
        } onGracefulShutdown: {
            worker.finish()
        }
    }
}

extension Logger {
    func with(label: String) -> Logger {
        var copy = Logger(label: label)
        copy.logLevel = logLevel
        return copy
    }
}
