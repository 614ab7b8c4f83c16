import Foundation
import VigilSupport

extension Catalog {
    /// Loads and validates a catalog file. Errors name the file, the key path and what was expected.
    public static func load(file: String) throws -> Catalog {
        try decodedApart { try decode(ConfigNode.load(file: file)) }
    }

    public static func parse(yaml: String, file: String = "<catalog>") throws -> Catalog {
        try decodedApart { try decode(ConfigNode.parse(yaml: yaml, file: file)) }
    }

    /// Runs `work` (parse and decode) on a thread of its own and returns a copy of its catalog made on the
    /// calling thread. The YAML tree of a large catalog is ten times the catalog (300 MB at 100k sensors) and
    /// the catalog's own strings lie scattered among its nodes, so the allocator could give none of those pages
    /// back: allocated by another thread (glibc gives each thread its own arena), the tree and the first catalog
    /// are all that arena holds, and once they are freed its pages go back to the system.
    static func decodedApart(_ work: @escaping @Sendable () throws -> Catalog) throws -> Catalog {
        final class Outcome: @unchecked Sendable { var result: Result<Catalog, any Error>? }
        let outcome = Outcome()
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            outcome.result = Result { try work() }
            done.signal()
        }
        thread.stackSize = 8 << 20
        thread.start()
        done.wait()
        let copy = try outcome.result!.get().copied()
        outcome.result = nil
        returnFreePagesToSystem()
        return copy
    }

    /// The same catalog in storage of its own: every string, list and table allocated anew (on this thread).
    func copied() -> Catalog {
        func fresh(_ text: String) -> String {
            var text = text
            return text.withUTF8 { String(decoding: $0, as: UTF8.self) }
        }
        // Sensors mostly share one table of detector tunings (the defaults'): copy each distinct one once.
        var lastDetectors: (original: [String: DetectorTuning], copy: [String: DetectorTuning])?
        func detectors(_ table: [String: DetectorTuning]) -> [String: DetectorTuning] {
            if table.isEmpty { return [:] }
            if let last = lastDetectors, last.original == table { return last.copy }
            var copy: [String: DetectorTuning] = [:]
            for (name, tuning) in table {
                copy[fresh(name)] = DetectorTuning(enabled: tuning.enabled,
                                                   parameters: Dictionary(uniqueKeysWithValues: tuning.parameters.map { (fresh($0.key), $0.value) }))
            }
            lastDetectors = (table, copy)
            return copy
        }
        let assets = self.assets.map { a in
            Asset(id: fresh(a.id), name: fresh(a.name), kind: fresh(a.kind),
                  causes: Dictionary(uniqueKeysWithValues: a.causes.map { (fresh($0.key), $0.value.map(fresh)) }))
        }
        var sensors: [Sensor] = []
        sensors.reserveCapacity(self.sensors.count)
        for s in self.sensors {
            sensors.append(Sensor(
                id: SensorID(fresh(s.id.rawValue)), name: fresh(s.name), unit: fresh(s.unit), asset: fresh(s.asset),
                topic: fresh(s.topic), valueField: fresh(s.valueField), timestampField: fresh(s.timestampField),
                qualityField: fresh(s.qualityField), samplePeriod: s.samplePeriod, limits: s.limits, decimals: s.decimals,
                related: s.related.isEmpty ? [] : s.related.map { SensorID(fresh($0.rawValue)) },
                detectors: detectors(s.detectors), sparkplugMetric: s.sparkplugMetric.map(fresh), alarm: s.alarm))
        }
        return Catalog(plant: fresh(plant), site: fresh(site), assets: assets, sensors: sensors)
    }

    /// Detector names the catalog may tune.
    public static let detectorNames: Set<String> = [
        "limits", "spike", "level_shift", "volatility_shift", "drift", "stuck", "silence", "seasonal", "correlation",
    ]

    static func decode(_ root: ConfigNode) throws -> Catalog {
        try root.rejectUnknownKeys(["plant", "site", "defaults", "assets", "sensors"])
        let plant = try root.required("plant").string()
        let site = try root["site"]?.string() ?? "site"
        try checkName(site, at: root["site"] ?? root, what: "site")

        let defaults = try root["defaults"].map(decodeDefaults) ?? SensorDefaults()

        // Indexes keep loading linear in the catalog's size (100k sensors load in seconds).
        var assets: [Asset] = []
        var assetIDs = Set<String>()
        for item in try root.required("assets").list() {
            let node = try item.fields(["id", "name", "kind", "causes"])
            let idNode = try node.required("id")
            let id = try idNode.string()
            try checkName(id, at: idNode, what: "asset id")
            guard assetIDs.insert(id).inserted else { throw idNode.error("duplicate asset id `\(id)`") }
            var causes: [String: [String]] = [:]
            if let causesNode = node["causes"] {
                for (kind, list) in try causesNode.entries() { causes[kind] = try list.stringList() }
            }
            assets.append(Asset(id: id, name: try node["name"]?.string() ?? id,
                                kind: try node["kind"]?.string() ?? "", causes: causes))
        }

        let sensorItems = try root.required("sensors").list()
        var sensors: [Sensor] = []
        var sensorNodes: [ConfigNode] = []
        var sensorIndex: [SensorID: Int] = [:]
        // The last sensor on each topic, and before each sensor the previous one on its topic (-1: none):
        // only Sparkplug B sensors share topics, so most chains are one long.
        var lastOnTopic: [String: Int] = [:]
        var previousOnTopic: [Int] = []
        sensors.reserveCapacity(sensorItems.count)
        sensorNodes.reserveCapacity(sensorItems.count)
        sensorIndex.reserveCapacity(sensorItems.count)
        lastOnTopic.reserveCapacity(sensorItems.count)
        previousOnTopic.reserveCapacity(sensorItems.count)
        let sensorKeys: Set<String> = [
            "id", "name", "unit", "asset", "topic", "field", "timestamp_field", "quality_field",
            "period", "limits", "decimals", "related", "detectors", "metric", "alarm",
        ]
        for item in sensorItems {
            let node = try item.fields(sensorKeys)
            let idNode = try node.required("id")
            let id = SensorID(try idNode.string())
            try checkName(id.rawValue, at: idNode, what: "sensor id")
            if sensorIndex[id] != nil { throw idNode.error("duplicate sensor id `\(id)`") }
            let assetNode = try node.required("asset")
            let asset = try assetNode.string()
            guard assetIDs.contains(asset) else {
                throw assetNode.error("unknown asset `\(asset)`; the assets are: \(assets.map(\.id).joined(separator: ", "))")
            }
            let topicNode = try node.required("topic")
            let topic = try topicNode.string()
            guard !topic.isEmpty, !Catalog.hasWildcard(topic) else {
                throw topicNode.error("expected a concrete MQTT topic without wildcards, found `\(topic)`")
            }
            // Sparkplug B: several metrics share an NDATA/DDATA topic, each sensor names its metric.
            var metric: String?
            if let metricNode = node["metric"] {
                let name = try metricNode.string()
                guard !name.isEmpty, name.utf8.count <= 256 else { throw metricNode.error("expected a Sparkplug B metric name") }
                guard let parsed = SparkplugTopic(topic), parsed.isData else {
                    throw topicNode.error("a sensor with a Sparkplug B `metric` needs an NDATA or DDATA topic (spBv1.0/<group>/NDATA/<node> or spBv1.0/<group>/DDATA/<node>/<device>), found `\(topic)`")
                }
                metric = name
            }
            var same = lastOnTopic[topic] ?? -1
            while same >= 0 {
                let other = sensors[same]
                if other.sparkplugMetric == nil || metric == nil || other.sparkplugMetric == metric {
                    if let metric {
                        throw topicNode.error("metric `\(metric)` on topic `\(topic)` is already used by sensor `\(other.id)`")
                    }
                    throw topicNode.error("topic `\(topic)` is already used by sensor `\(other.id)`")
                }
                same = previousOnTopic[same]
            }
            let period = try node["period"]?.seconds() ?? defaults.period
            guard period > 0 else { throw (node["period"] ?? item).error("expected a sample period above zero") }
            var limits = Limits()
            if let limitsNode = node["limits"] {
                let bounds = try limitsNode.fields(["low", "high"])
                limits = Limits(low: try bounds["low"]?.double(), high: try bounds["high"]?.double())
                if let low = limits.low, let high = limits.high, low >= high {
                    throw limitsNode.error("expected `low` below `high`, found low \(low) and high \(high)")
                }
            }
            let decimalsNode = node["decimals"]
            let decimals = try decimalsNode?.int() ?? defaults.decimals
            guard (0...6).contains(decimals) else { throw (decimalsNode ?? item).error("expected decimals between 0 and 6") }
            var detectors = defaults.detectors
            if let detectorsNode = node["detectors"] {
                for (name, tuning) in try decodeDetectors(detectorsNode) { detectors[name] = tuning }
            }
            var alarm = defaults.alarm
            if let alarmNode = node["alarm"] {
                let own = try decodeAlarm(alarmNode)
                alarm = alarm?.overridden(by: own) ?? own
            }
            if let deadband = alarm?.deadband, let low = limits.low, let high = limits.high, 2 * deadband >= high - low {
                throw (node["alarm"] ?? item).error("expected a deadband below half the span between the limits (\(high - low)), found \(deadband)")
            }
            sensors.append(Sensor(
                id: id, name: try node["name"]?.string() ?? id.rawValue, unit: try node["unit"]?.string() ?? "",
                asset: asset, topic: topic,
                valueField: try node["field"]?.string() ?? defaults.valueField,
                timestampField: try node["timestamp_field"]?.string() ?? defaults.timestampField,
                qualityField: try node["quality_field"]?.string() ?? defaults.qualityField,
                samplePeriod: period, limits: limits, decimals: decimals,
                related: try node["related"]?.stringList().map { SensorID($0) } ?? [],
                detectors: detectors, sparkplugMetric: metric, alarm: alarm))
            sensorIndex[id] = sensors.count - 1
            previousOnTopic.append(lastOnTopic.updateValue(sensors.count - 1, forKey: topic) ?? -1)
            sensorNodes.append(item)
        }
        guard !sensors.isEmpty else { throw try root.required("sensors").error("expected at least one sensor") }

        // Related sensors must exist; the relation is made symmetric.
        for (i, sensor) in sensors.enumerated() {
            for other in sensor.related {
                guard sensorIndex[other] != nil else {
                    throw (sensorNodes[i]["related"] ?? sensorNodes[i]).error("unknown related sensor `\(other)`")
                }
                guard other != sensor.id else {
                    throw (sensorNodes[i]["related"] ?? sensorNodes[i]).error("a sensor cannot be related to itself")
                }
            }
        }
        for i in sensors.indices {
            for other in sensors[i].related {
                guard let j = sensorIndex[other] else { continue }
                if !sensors[j].related.contains(sensors[i].id) { sensors[j].related.append(sensors[i].id) }
            }
        }
        return Catalog(plant: plant, site: site, assets: assets, sensors: sensors)
    }

    struct SensorDefaults {
        var period: Double = 1
        var decimals = 1
        var valueField = "value"
        var timestampField = "ts"
        var qualityField = "quality"
        var detectors: [String: DetectorTuning] = [:]
        var alarm: AlarmSettings?
    }

    static func decodeDefaults(_ node: ConfigNode) throws -> SensorDefaults {
        try node.rejectUnknownKeys(["period", "decimals", "field", "timestamp_field", "quality_field", "detectors", "alarm"])
        var d = SensorDefaults()
        if let v = node["period"] { d.period = try v.seconds() }
        if let v = node["decimals"] { d.decimals = try v.int() }
        if let v = node["field"] { d.valueField = try v.string() }
        if let v = node["timestamp_field"] { d.timestampField = try v.string() }
        if let v = node["quality_field"] { d.qualityField = try v.string() }
        if let v = node["detectors"] { d.detectors = try decodeDetectors(v) }
        if let v = node["alarm"] { d.alarm = try decodeAlarm(v) }
        return d
    }

    /// Longest on-delay, off-delay or chatter window: a day (an alarm delayed longer is no alarm).
    static let longestAlarmDelay = 86_400.0

    /// `alarm: {on_delay: 5s, off_delay: 30s, deadband: 0.5, chatter: {count: 3, window: 60s}}`
    static func decodeAlarm(_ node: ConfigNode) throws -> AlarmSettings {
        let fields = try node.fields(["on_delay", "off_delay", "deadband", "chatter"])
        func delay(_ key: String) throws -> Double? {
            guard let v = fields[key] else { return nil }
            let seconds = try v.seconds()
            guard seconds >= 0, seconds <= longestAlarmDelay else {
                throw v.error("expected a duration from 0s to 24h, found \(seconds) s")
            }
            return seconds
        }
        var a = AlarmSettings(onDelay: try delay("on_delay"), offDelay: try delay("off_delay"))
        if let v = fields["deadband"] {
            let deadband = try v.double()
            guard deadband >= 0, deadband.isFinite else { throw v.error("expected a deadband of 0 or more, found \(deadband)") }
            a.deadband = deadband
        }
        if let v = fields["chatter"] {
            if let enabled = try? v.bool() {
                // `chatter: off` keeps every opening as it comes.
                a.chatterCount = enabled ? nil : 0
            } else {
                let chatter = try v.fields(["count", "window"])
                if let c = chatter["count"] {
                    let count = try c.int()
                    guard (2...5).contains(count) else { throw c.error("expected a chatter count from 2 to 5, found \(count)") }
                    a.chatterCount = count
                }
                if let w = chatter["window"] {
                    let seconds = try w.seconds()
                    guard seconds > 0, seconds <= longestAlarmDelay else {
                        throw w.error("expected a chatter window above 0s and at most 24h, found \(seconds) s")
                    }
                    a.chatterWindow = seconds
                }
            }
        }
        return a
    }

    /// `detectors: {spike: off, drift: {threshold: 8}, seasonal: {period: 1h}}`
    static func decodeDetectors(_ node: ConfigNode) throws -> [String: DetectorTuning] {
        var result: [String: DetectorTuning] = [:]
        for (name, value) in try node.entries() {
            guard detectorNames.contains(name) else {
                throw value.error("unknown detector `\(name)`; known: \(detectorNames.sorted().joined(separator: ", "))")
            }
            if let enabled = try? value.bool() {
                result[name] = DetectorTuning(enabled: enabled)
                continue
            }
            var tuning = DetectorTuning()
            for (key, parameter) in try value.entries() {
                if key == "enabled" {
                    tuning.enabled = try parameter.bool()
                } else if let number = try? parameter.double() {
                    tuning.parameters[key] = number
                } else {
                    tuning.parameters[key] = try parameter.seconds()
                }
            }
            result[name] = tuning
        }
        return result
    }

    /// Ids and the site name appear in MQTT topics and in text: keep them to a safe alphabet.
    static func checkName(_ name: String, at node: ConfigNode, what: String) throws {
        guard !name.isEmpty, name.utf8.count <= 64, name.utf8.allSatisfy(isNameByte) else {
            throw node.error("expected a \(what) of 1-64 letters, digits, `.`, `_` or `-`, found `\(name.prefix(70))`")
        }
    }

    static func isNameByte(_ b: UInt8) -> Bool {
        (b >= 0x61 && b <= 0x7A) || (b >= 0x41 && b <= 0x5A) || (b >= 0x30 && b <= 0x39) || b == 0x2E || b == 0x5F || b == 0x2D
    }
}

extension Catalog {
    /// Whether `topic` holds an MQTT wildcard (`+` or `#`): a sensor's topic and a publish topic must not.
    public static func hasWildcard(_ topic: String) -> Bool {
        topic.utf8.contains { $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: "#") }
    }
}
