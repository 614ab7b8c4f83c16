/// How far a reading can be trusted, as the source reported it.
public enum Quality: String, Sendable, Codable, CaseIterable {
    case good
    case uncertain
    case bad
}

/// One sensor value at one instant: what every source (MQTT, a recording) turns its input into.
public struct Reading: Sendable, Equatable {
    public var sensor: SensorID
    /// Milliseconds since the Unix epoch (UTC).
    public var timestamp: Int64
    public var value: Double
    public var quality: Quality

    public init(sensor: SensorID, timestamp: Int64, value: Double, quality: Quality = .good) {
        self.sensor = sensor
        self.timestamp = timestamp
        self.value = value
        self.quality = quality
    }
}
