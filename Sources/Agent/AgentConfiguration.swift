import Foundation
import MicroLM
import MQTT
import Outbox
import Telemetry

/// Saving the detector's learned state, so that a restart or an upgrade does not mean a new warm-up.
public struct DetectorStateSettings: Sendable, Equatable {
    /// Restore the state at start and save it periodically and on shutdown.
    public var persist = true
    /// The state file; default `<state_dir>/detector.state`.
    public var path: String
    /// Seconds between periodic saves (0: only on a graceful shutdown).
    public var saveInterval: Double = 300

    public init(path: String) {
        self.path = path
    }
}

/// Everything `vigil run` needs, loaded from one YAML file (schemas/config.schema.json).
public struct AgentConfiguration: Sendable {
    public var file: String
    public var agentName: String
    public var catalogPath: String
    public var stateDirectory: String
    /// The plant's broker: `local.url` and its options, parsed by `MQTTConfiguration(url:)`.
    public var local: MQTTConfiguration
    public var topicPrefix = "vigil"
    public var maxPayloadBytes = 4096
    public var maxFutureSkew: Double = 300
    public var maxAge: Double = 86_400
    /// A subscription with no message for this long is reported as silent (0 = off).
    public var silentAfter: Double = 120
    /// Fairness: inbound messages per second accepted on any one topic; more are dropped and
    /// counted, so a flooding sensor cannot delay the others' readings (0 = no limit).
    public var maxRatePerTopic: Double = 1000
    public var narrationEnabled = true
    public var modelPath: String?
    /// The SHA-256 the model file must have (default: the provisioned SmolLM2 file's).
    public var modelSHA256 = AgentConfiguration.defaultModelSHA256
    public var narrationDeadline: Double = 1.5
    public var narrationQueue = 16
    public var narrationThreads = 2
    /// The narration LoRA adapter (`narration.adapter`, `narration.adapter_sha256`); nil: none.
    public var narrationAdapter: NarrationAdapterSettings?
    /// Signed model bundles (`narration.trusted_keys`, `narration.bundles`); nil: the model file above.
    public var narrationBundles: NarrationBundleSettings?
    /// Floors of the field narration figures (`narration.drift`); the latency ceiling defaults to the deadline.
    public var narrationDrift = NarrationDriftSettings()
    /// The plant's larger model for hard cases (`narration.escalate`); nil: off.
    public var narrationEscalation: EscalationSettings?
    public var upstream: MQTTConfiguration?
    public var upstreamTopic: String?
    /// The store-and-forward outbox (`upstream.outbox`), with the agent's defaults (`defaultOutbox`).
    public var outbox: OutboxConfiguration
    public var detectorState: DetectorStateSettings
    public var statusInterval: Double = 60
    /// `host:port` of the metrics and health endpoint; nil when off.
    public var metricsListen: String? = "127.0.0.1:9464"
    public var logLevel = "info"
    public var logFormat = "text"

    /// The catalog, loaded relative to the configuration file's folder when the path is relative.
    public func loadCatalog() throws -> Catalog {
        try Catalog.load(file: catalogPath)
    }

    public static func load(file: String) throws -> AgentConfiguration {
        try decode(ConfigNode.load(file: file))
    }

    /// `renamedKeys`: keys of earlier releases and their new names (tests pass their own table).
    public static func parse(yaml: String, file: String = "<config>",
                             renamedKeys: [RenamedConfigurationKey] = AgentConfiguration.renamedKeys) throws -> AgentConfiguration {
        let root = try ConfigNode.parse(yaml: yaml, file: file)
        return try RenamedConfigurationKey.$table.withValue(renamedKeys) { try decode(root) }
    }

    /// The configuration schema version this build reads; older files still load (see `decode`).
    public static let version = 1
    /// The digest of the default model (deploy/provision-model.sh).
    public static let defaultModelSHA256 = ModelLocator.defaultSHA256

    static func decode(_ root: ConfigNode) throws -> AgentConfiguration {
        try root.rejectKeys(allowing: ["version", "agent", "local", "ingest", "narration", "detector", "upstream", "metrics", "logging"])
        if let v = root["version"] {
            let version = try v.int()
            guard version >= 1, version <= AgentConfiguration.version else {
                throw v.error("this vigil reads configuration version 1 to \(AgentConfiguration.version), found \(version); upgrade vigil or use a matching example from deploy/")
            }
        }
        let baseDirectory = URL(fileURLWithPath: root.file).deletingLastPathComponent().path
        func resolve(_ path: String) -> String {
            path.hasPrefix("/") ? path : URL(fileURLWithPath: baseDirectory).appendingPathComponent(path).standardized.path
        }

        let agent = try root.required("agent")
        try agent.rejectKeys(allowing: ["name", "catalog", "state_dir"])
        let nameNode = try agent.required("name")
        let name = try nameNode.string()
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
        guard !name.isEmpty, name.count <= 64, name.allSatisfy(allowed.contains) else {
            throw nameNode.error("expected an agent name of 1-64 letters, digits, `.`, `_` or `-` (it appears in MQTT topics)")
        }
        let catalog = resolve(try agent.required("catalog").string())
        let state = resolve(try agent["state_dir"]?.string() ?? "/var/lib/vigil")

        var local = try decodeBroker(try root.required("local"), defaultClientID: "vigil-\(name)")
        if local.clientID?.isEmpty ?? true { local.clientID = "vigil-\(name)" }
        var config = AgentConfiguration(
            file: root.file, agentName: name, catalogPath: catalog, stateDirectory: state, local: local,
            outbox: defaultOutbox(path: state + "/outbox.db"),
            detectorState: DetectorStateSettings(path: state + "/detector.state"))
        if let prefix = try root["local"]?["topic_prefix"]?.string() {
            let node = try root.required("local").required("topic_prefix")
            guard !prefix.isEmpty, !prefix.contains("+"), !prefix.contains("#") else {
                throw node.error("expected a topic prefix without wildcards")
            }
            _ = try node.topic()
            config.topicPrefix = prefix
        }

        if let ingest = root["ingest"] {
            try ingest.rejectKeys(allowing: ["max_payload_bytes", "max_future_skew", "max_age", "silent_after", "max_rate_per_topic"])
            if let v = ingest["max_payload_bytes"] {
                config.maxPayloadBytes = try v.int()
                guard (16...1_048_576).contains(config.maxPayloadBytes) else { throw v.error("expected 16 to 1048576 bytes") }
            }
            if let v = ingest["max_future_skew"] { config.maxFutureSkew = try v.seconds(within: 0...ConfigurationBounds.longest) }
            if let v = ingest["max_age"] { config.maxAge = try v.seconds(within: 1...ConfigurationBounds.longest) }
            if let v = ingest["max_rate_per_topic"] {
                config.maxRatePerTopic = try v.double()
                guard config.maxRatePerTopic >= 0, config.maxRatePerTopic <= 1_000_000 else {
                    throw v.error("expected 0 (no limit) or messages per second per topic, up to 1000000")
                }
            }
            if let v = ingest["silent_after"] { config.silentAfter = try v.seconds(within: 0.001...ConfigurationBounds.longest, allowingZero: true) }
        }

        if let narration = root["narration"] {
            try narration.rejectKeys(allowing: Set(["enabled", "model", "model_sha256", "deadline", "queue", "threads"])
                .union(NarrationAdapterSettings.keys).union(NarrationBundleSettings.keys).union(["drift", "escalate"]))
            config.narrationBundles = try NarrationBundleSettings.decode(narration, stateDirectory: config.stateDirectory, resolve: resolve)
            config.narrationAdapter = try NarrationAdapterSettings.decode(narration, resolve: resolve)
            if let v = narration["enabled"] { config.narrationEnabled = try v.bool() }
            if let v = narration["model"] { config.modelPath = resolve(try v.string()) }
            if let v = narration["model_sha256"] {
                let digest = try v.string().lowercased()
                guard digest.count == 64, digest.allSatisfy(\.isHexDigit) else {
                    throw v.error("expected the model file's SHA-256 as 64 hexadecimal digits (`sha256sum FILE`)")
                }
                config.modelSHA256 = digest
            }
            if let v = narration["deadline"] {
                guard try v.seconds() > 0 else { throw v.error("expected a deadline above zero") }
                config.narrationDeadline = try v.seconds(within: 0.001...3600)
            }
            if let v = narration["queue"] {
                config.narrationQueue = try v.int()
                guard (1...1024).contains(config.narrationQueue) else { throw v.error("expected a queue of 1 to 1024 alerts") }
            }
            if let v = narration["threads"] {
                config.narrationThreads = try v.int()
                guard (1...64).contains(config.narrationThreads) else { throw v.error("expected 1 to 64 threads") }
            }
            if let escalate = narration["escalate"] {
                config.narrationEscalation = try EscalationSettings.decode(escalate, resolve: resolve)
            }
            if let drift = narration["drift"] {
                let f = try drift.fields(["window", "min_model_share", "max_latency_p95", "min_narrations"])
                if let v = f["window"] { config.narrationDrift.window = try v.seconds(within: 60...7 * 86_400) }
                if let v = f["min_model_share"] {
                    let share = try v.double()
                    guard (0...1).contains(share) else { throw v.error("expected a share from 0 (no floor) to 1") }
                    config.narrationDrift.minModelShare = share
                }
                if let v = f["max_latency_p95"] { config.narrationDrift.maxLatencyP95 = try v.seconds(within: 0.001...3600) }
                if let v = f["min_narrations"] {
                    config.narrationDrift.minNarrations = try v.int()
                    guard (1...100_000).contains(config.narrationDrift.minNarrations) else { throw v.error("expected 1 to 100000 narrations") }
                }
            }
        }

        if let detector = root["detector"] {
            try detector.rejectKeys(allowing: ["persist_state", "state_file", "save_interval"])
            if let v = detector["persist_state"] { config.detectorState.persist = try v.bool() }
            if let v = detector["state_file"] { config.detectorState.path = resolve(try v.string()) }
            if let v = detector["save_interval"] {
                guard try v.seconds() == 0 || v.seconds() >= 1 else {
                    throw v.error("expected 0 (save on shutdown only) or at least 1s")
                }
                config.detectorState.saveInterval = try v.seconds(within: 1...ConfigurationBounds.longest, allowingZero: true)
            }
        }

        if let upstream = root["upstream"] {
            let enabled = try upstream["enabled"]?.bool() ?? true
            if enabled {
                config.upstream = try decodeBroker(upstream, defaultClientID: "vigil-\(name)-up",
                                                   extraKeys: ["enabled", "topic", "outbox", "status_interval"])
                if let t = upstream["topic"] { config.upstreamTopic = try t.topic() }
                if let v = upstream["status_interval"] { config.statusInterval = try v.seconds(within: 1...ConfigurationBounds.longest) }
                if let o = upstream["outbox"] {
                    try o.rejectKeys(allowing: ["path", "max_rows", "max_bytes", "max_age", "policy", "max_in_flight",
                                             "max_bytes_per_second", "live_first"])
                    if let v = o["path"] { config.outbox.path = resolve(try v.string()) }
                    if let v = o["max_rows"] { config.outbox.maxRows = try v.int() }
                    if let v = o["max_bytes"] { config.outbox.maxBytes = try v.int() }
                    if let v = o["max_age"] { config.outbox.maxAge = .seconds(try v.seconds(within: 1...ConfigurationBounds.longest)) }
                    if let v = o["policy"] {
                        // The file spells the policies with underscores, the type with hyphens.
                        let policy = try v.string()
                        guard let chosen = OutboxFullPolicy(rawValue: policy.replacingOccurrences(of: "_", with: "-")) else {
                            let policies = OutboxFullPolicy.allCases.map { $0.rawValue.replacingOccurrences(of: "-", with: "_") }
                            throw v.error("expected one of \(policies.joined(separator: ", ")), found `\(policy)`")
                        }
                        config.outbox.fullPolicy = chosen
                    }
                    if let v = o["max_in_flight"] { config.outbox.maxInFlight = try v.int() }
                    if let v = o["max_bytes_per_second"] {
                        let rate = try v.int()
                        guard rate >= 0 else { throw v.error("expected 0 (unlimited) or a positive rate") }
                        config.outbox.maxBytesPerSecond = rate > 0 ? rate : nil
                    }
                    if let v = o["live_first"] { config.outbox.liveFirst = try v.bool() }
                    guard config.outbox.maxRows > 0, config.outbox.maxBytes > 0, config.outbox.maxInFlight > 0 else {
                        throw o.error("expected max_rows, max_bytes and max_in_flight above zero")
                    }
                }
            }
        }

        if let metrics = root["metrics"] {
            try metrics.rejectKeys(allowing: ["listen", "enabled"])
            if let v = metrics["enabled"], try !v.bool() {
                config.metricsListen = nil
            } else if let v = metrics["listen"] {
                let listen = try v.string()
                guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]),
                      (0...65535).contains(port)
                else { throw v.error("expected host:port, e.g. 127.0.0.1:9464") }
                let host = String(listen[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
                guard ConfigurationBounds.isAddressLiteral(host) else {
                    throw v.error("expected an IPv4 or IPv6 address (or localhost) before the port, found `\(host)`: the metrics server does not resolve host names")
                }
                config.metricsListen = listen
            }
        }
        if let logging = root["logging"] {
            try logging.rejectKeys(allowing: ["level", "format"])
            if let v = logging["level"] {
                let level = try v.string()
                let levels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
                guard levels.contains(level) else { throw v.error("expected one of \(levels.joined(separator: ", "))") }
                config.logLevel = level
            }
            if let v = logging["format"] {
                let format = try v.string()
                guard ["text", "json"].contains(format) else { throw v.error("expected `text` or `json`") }
                config.logFormat = format
            }
        }
        return config
    }

    /// The outbox as `vigil run` keeps it unless `upstream.outbox` says otherwise: 100,000 events,
    /// 256 MiB, 30 days.
    static func defaultOutbox(path: String) -> OutboxConfiguration {
        OutboxConfiguration(path: path, maxRows: 100_000, maxBytes: 256 * 1024 * 1024, maxAge: .seconds(30 * 86_400))
    }

    static func decodeBroker(_ node: ConfigNode, defaultClientID: String, extraKeys: Set<String> = ["topic_prefix"]) throws -> MQTTConfiguration {
        if let p = node["password"] {
            throw p.error("passwords do not go in the configuration file; use `password_file` or `password_env`")
        }
        try node.rejectKeys(allowing: extraKeys.union([
            "url", "client_id", "protocol", "keepalive", "username", "username_env", "password_file", "password_env",
            "tls", "reconnect",
        ]))
        let urlNode = try node.required("url")
        let clientID = try node["client_id"]?.string() ?? defaultClientID
        var broker: MQTTConfiguration
        do {
            broker = try MQTTConfiguration(url: try urlNode.string(), clientID: clientID)
        } catch let error as MQTTError {
            guard case .invalidURL(_, let reason) = error else { throw urlNode.error("\(error)") }
            throw urlNode.error("expected mqtt://host[:port] or mqtts://host[:port]: \(reason)")
        }
        if broker.password != nil {
            throw urlNode.error("passwords do not go in the configuration file; use `password_file` or `password_env`")
        }
        if let v = node["protocol"] {
            let p = try v.string()
            guard let version = MQTTProtocolVersion(rawValue: p) else { throw v.error("expected `3.1.1` or `5`") }
            broker.protocolVersion = version
        }
        if let v = node["keepalive"] {
            let seconds = try v.seconds()
            guard seconds == 0 || (5...65_535).contains(seconds) else {
                throw v.error("expected 0 (off) or a keepalive from 5s to 65535s (MQTT's limit)")
            }
            broker.keepAlive = .seconds(seconds)
        }
        if let v = node["username"] { broker.username = try v.string() }
        if let v = node["username_env"] {
            let name = try v.string()
            guard let value = ProcessInfo.processInfo.environment[name] else {
                throw v.error("the environment variable `\(name)` is not set")
            }
            broker.username = value
        }
        if let v = node["password_env"] {
            let name = try v.string()
            guard let value = ProcessInfo.processInfo.environment[name] else {
                throw v.error("the environment variable `\(name)` is not set")
            }
            broker.password = value
        }
        if let v = node["password_file"] {
            let path = try v.string()
            guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
                throw v.error("cannot read the password file `\(path)`")
            }
            broker.password = text.trimmingCharacters(in: .newlines)
        }
        if let tls = node["tls"] {
            try tls.rejectKeys(allowing: ["ca_file", "cert_file", "key_file", "insecure"])
            var settings = broker.tls ?? MQTTTLSConfiguration()
            for (key, keyPath) in [("ca_file", \MQTTTLSConfiguration.caFile), ("cert_file", \.certificateFile), ("key_file", \.keyFile)] {
                if let v = tls[key] {
                    let path = try v.string()
                    guard FileManager.default.isReadableFile(atPath: path) else { throw v.error("cannot read `\(path)`") }
                    settings[keyPath: keyPath] = path
                }
            }
            if (settings.certificateFile == nil) != (settings.keyFile == nil) {
                throw tls.error("expected both `cert_file` and `key_file` for a client certificate, or neither")
            }
            if let v = tls["insecure"] { settings.insecure = try v.bool() }
            broker.tls = settings
        }
        if let r = node["reconnect"] {
            try r.rejectKeys(allowing: ["min", "max"])
            if let v = r["min"] { broker.reconnectDelay.min = .seconds(try v.seconds(within: 0.001...86_400)) }
            if let v = r["max"] { broker.reconnectDelay.max = .seconds(try v.seconds(within: 0.001...86_400)) }
            guard broker.reconnectDelay.min > .zero, broker.reconnectDelay.max >= broker.reconnectDelay.min else {
                throw r.error("expected 0 < min <= max")
            }
        }
        return broker
    }
}
