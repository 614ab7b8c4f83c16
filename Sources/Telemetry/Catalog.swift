/// The plant as Vigil knows it: assets, their sensors, where each sensor publishes and what is normal.
public struct Catalog: Sendable {
    public var plant: String
    /// Short site name used in upstream topics (`vigil/<site>/<agent>/events`).
    public var site: String
    public var assets: [Asset]
    public var sensors: [Sensor]

    public private(set) var indexByID: [SensorID: Int] = [:]
    /// Sensors with a plain (JSON or number) payload, by topic.
    public private(set) var indexByTopic: [String: Int] = [:]
    /// Sparkplug B sensors: data topic (NDATA/DDATA) → metric name → sensor index.
    public private(set) var sparkplugByTopic: [String: [String: Int]] = [:]
    /// What the agent subscribes to: every plain topic, and for Sparkplug B sensors their data topic
    /// and its birth topic (which announces metric aliases).
    public private(set) var subscriptionTopics: [String] = []

    public init(plant: String, site: String, assets: [Asset], sensors: [Sensor]) {
        self.plant = plant
        self.site = site
        self.assets = assets
        self.sensors = sensors
        var seen = Set<String>(minimumCapacity: sensors.count)
        indexByID.reserveCapacity(sensors.count)
        indexByTopic.reserveCapacity(sensors.count)
        subscriptionTopics.reserveCapacity(sensors.count)
        func subscribe(_ topic: String) {
            if seen.insert(topic).inserted { subscriptionTopics.append(topic) }
        }
        for (i, s) in sensors.enumerated() {
            indexByID[s.id] = i
            if let metric = s.sparkplugMetric {
                sparkplugByTopic[s.topic, default: [:]][metric] = i
                subscribe(s.topic)
                if let topic = SparkplugTopic(s.topic) { subscribe(topic.birthTopic) }
            } else {
                indexByTopic[s.topic] = i
                subscribe(s.topic)
            }
        }
    }

    public func index(of id: SensorID) -> Int? { indexByID[id] }
    public func sensor(_ id: SensorID) -> Sensor? { indexByID[id].map { sensors[$0] } }
    public func asset(_ id: String) -> Asset? { assets.first { $0.id == id } }

    /// The sensors of one asset, in catalog order.
    public func sensors(of asset: String) -> [Sensor] { sensors.filter { $0.asset == asset } }

    /// A catalog for series that come with none (e.g. `vigil score` on a CSV): one asset,
    /// one sensor per column, default detectors, and a sample period learned from the data when nil.
    public static func adHoc(columns: [String], samplePeriod: Double? = nil) -> Catalog {
        let sensors = columns.map { column in
            Sensor(id: SensorID(column), name: column, unit: "", asset: "series", topic: column,
                   samplePeriod: samplePeriod ?? 0)
        }
        return Catalog(plant: "ad hoc", site: "local",
                       assets: [Asset(id: "series", name: "series", kind: "series")], sensors: sensors)
    }
}

/// A machine or vessel that sensors belong to (a pump, a fan, a tank).
public struct Asset: Sendable, Equatable {
    public var id: String
    public var name: String
    public var kind: String
    /// Hedged causes narration may mention, by anomaly kind (e.g. `drift: ["bearing wear"]`).
    public var causes: [String: [String]]

    public init(id: String, name: String, kind: String, causes: [String: [String]] = [:]) {
        self.id = id
        self.name = name
        self.kind = kind
        self.causes = causes
    }
}

/// Engineering limits: outside them a reading is out of range whatever its history says.
public struct Limits: Sendable, Equatable {
    public var low: Double?
    public var high: Double?

    public init(low: Double? = nil, high: Double? = nil) {
        self.low = low
        self.high = high
    }
}

/// Alarm-management settings of one sensor, as ISA-18.2 names them. Every field is optional: what is not set
/// takes the detector's default.
public struct AlarmSettings: Sendable, Equatable {
    /// Seconds the abnormal condition must hold, reading after reading, before an alert opens (0: at once).
    /// A lone outlier never lasts that long, so with an on-delay spikes are not reported.
    public var onDelay: Double?
    /// Seconds the sensor must stay normal before an open alert clears.
    public var offDelay: Double?
    /// How far (engineering units) a reading must come back inside a limit before the limit alert clears.
    public var deadband: Double?
    /// Openings within `chatterWindow` seconds that make the sensor chattering (2-5; 0: no latching). The alert
    /// that would bring the count within reach (one fewer) latches: it stays open, instead of clearing and opening
    /// again, until the window that began with the oldest of those openings has passed, so the sensor never chatters.
    public var chatterCount: Int?
    public var chatterWindow: Double?

    public init(onDelay: Double? = nil, offDelay: Double? = nil, deadband: Double? = nil, chatterCount: Int? = nil,
                chatterWindow: Double? = nil) {
        self.onDelay = onDelay
        self.offDelay = offDelay
        self.deadband = deadband
        self.chatterCount = chatterCount
        self.chatterWindow = chatterWindow
    }

    /// `other`'s fields where set, this one's elsewhere (a sensor's block over the catalog's defaults).
    public func overridden(by other: AlarmSettings?) -> AlarmSettings {
        guard let other else { return self }
        return AlarmSettings(onDelay: other.onDelay ?? onDelay, offDelay: other.offDelay ?? offDelay,
                             deadband: other.deadband ?? deadband, chatterCount: other.chatterCount ?? chatterCount,
                             chatterWindow: other.chatterWindow ?? chatterWindow)
    }
}

/// Per-sensor tuning of one detector: whether it runs and its numeric parameters.
public struct DetectorTuning: Sendable, Equatable {
    public var enabled: Bool
    public var parameters: [String: Double]

    public init(enabled: Bool = true, parameters: [String: Double] = [:]) {
        self.enabled = enabled
        self.parameters = parameters
    }
}

public struct Sensor: Sendable, Equatable {
    public var id: SensorID
    public var name: String
    public var unit: String
    public var asset: String
    /// The MQTT topic its readings arrive on.
    public var topic: String
    /// The Sparkplug B metric name when `topic` is an NDATA/DDATA topic; nil for JSON or number payloads.
    public var sparkplugMetric: String?
    /// Dotted path of the value in a JSON payload (`value`, `data.temp`).
    public var valueField: String
    /// Dotted path of the timestamp in a JSON payload; absent means receive time.
    public var timestampField: String
    /// Dotted path of the quality flag in a JSON payload.
    public var qualityField: String
    /// Nominal seconds between readings (0 = unknown, learned from the data).
    public var samplePeriod: Double
    public var limits: Limits
    /// Decimal places Vigil rounds this sensor's numbers to in text.
    public var decimals: Int
    /// Sensors that usually move together with this one (symmetric after loading).
    public var related: [SensorID]
    /// Detector tuning by detector name (`limits`, `spike`, `level_shift`, `drift`, `stuck`, `silence`, ...).
    public var detectors: [String: DetectorTuning]
    /// How this sensor's alerts open and clear (on-delay, off-delay, deadband, chattering); nil: the defaults.
    public var alarm: AlarmSettings?

    public init(
        id: SensorID, name: String, unit: String, asset: String, topic: String,
        valueField: String = "value", timestampField: String = "ts", qualityField: String = "quality",
        samplePeriod: Double, limits: Limits = Limits(), decimals: Int = 1,
        related: [SensorID] = [], detectors: [String: DetectorTuning] = [:], sparkplugMetric: String? = nil,
        alarm: AlarmSettings? = nil
    ) {
        self.alarm = alarm
        self.sparkplugMetric = sparkplugMetric
        self.id = id
        self.name = name
        self.unit = unit
        self.asset = asset
        self.topic = topic
        self.valueField = valueField
        self.timestampField = timestampField
        self.qualityField = qualityField
        self.samplePeriod = samplePeriod
        self.limits = limits
        self.decimals = decimals
        self.related = related
        self.detectors = detectors
    }
}
