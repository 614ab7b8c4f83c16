/// Bytes on the wire, for the distillation figures.
public enum MQTTWireSize {
    /// An MQTT 3.1.1 PUBLISH with QoS 1 or 2: fixed header, topic, packet id, payload.
    public static func publish(topicBytes: Int, payloadBytes: Int, qos: Int = 1) -> Int {
        let remaining = 2 + topicBytes + (qos > 0 ? 2 : 0) + payloadBytes
        var lengthBytes = 1
        var rest = remaining / 128
        while rest > 0 {
            lengthBytes += 1
            rest /= 128
        }
        return 1 + lengthBytes + remaining
    }
}
