import MQTT

/// `--broker <url>` of every command that talks to a broker, read once by the MQTT library's one URL
/// grammar (`MQTTConfiguration(url:)`): `tls://`, user info and `?options` mean the same to
/// `replay`, `record`, `bench live` and `bench outbox` as to the configuration file's `url:`.
enum BrokerOption {
    static let grammar = "mqtt://[user[:password]@]host[:port][?options], or mqtts:// (tls://) for TLS"

    static func parse(_ url: String) throws -> MQTTConfiguration {
        try MQTTConfiguration(url: url)
    }

    /// The broker given, or the local default `mqtt://127.0.0.1:1883`; `clientID` unless the URL names one.
    static func resolved(_ broker: MQTTConfiguration?, clientID: String) -> MQTTConfiguration {
        var b = broker ?? MQTTConfiguration()
        if b.clientID == nil { b.clientID = clientID }
        return b
    }
}
