import Foundation
import MQTT
import Testing
import VigilTestSupport

@Suite("Topic filters")
struct TopicFilterTests {
    @Test("matching", arguments: [
        ("a/b/c", "a/b/c", true),
        ("a/+/c", "a/b/c", true),
        ("a/+/c", "a/b/d", false),
        ("a/+/c", "a/b/x/c", false),
        ("a/+", "a/", true),
        ("a/+", "a", false),
        ("a/#", "a", true),
        ("a/#", "a/b/c/d", true),
        ("a/#", "ab/c", false),
        ("#", "a/b", true),
        ("#", "$SYS/broker/uptime", false),
        ("+/broker/uptime", "$SYS/broker/uptime", false),
        ("$SYS/#", "$SYS/broker/uptime", true),
        ("+/+", "/x", true),
        ("/+", "/x", true),
        ("a/b", "a/b/", false),
        ("plant/+/temperature", "plant/press-1/temperature", true),
        ("plant/+/temperature", "plant/press-1/temperatures", false),
        ("ü/+", "ü/x", true),
    ])
    func matches(filter: String, topic: String, expected: Bool) throws {
        #expect(try MQTTTopicFilter(filter).matches(topic) == expected)
    }

    @Test("invalid filters are rejected", arguments: ["", "a/#/b", "a#", "a/b+", "+a/b", "a/\u{0}"])
    func invalid(filter: String) {
        #expect(throws: MQTTError.self) { try MQTTTopicFilter(filter) }
    }

    @Test("topic names cannot hold wildcards", arguments: ["", "a/+", "a/#", "a\u{0}"])
    func invalidTopicNames(topic: String) {
        #expect(throws: MQTTError.self) { try MQTTTopicName.validate(topic) }
    }
}

@Suite("Broker URLs")
struct BrokerURLTests {
    @Test("plain and TLS URLs with defaults")
    func defaults() throws {
        let plain = try MQTTConfiguration(url: "mqtt://broker.plant.local")
        #expect(plain.host == "broker.plant.local")
        #expect(plain.port == 1883)
        #expect(plain.tls == nil)
        let secure = try MQTTConfiguration(url: "mqtts://10.0.0.5")
        #expect(secure.port == 8883)
        #expect(secure.tls == MQTTTLSConfiguration())
        #expect(secure.brokerURL == "mqtts://10.0.0.5:8883")
    }

    @Test("user, password, IPv6, port and options")
    func full() throws {
        let config = try MQTTConfiguration(
            url: "mqtts://vigil%40site:p%3Ass@[::1]:18883/?version=5&clientId=gw-7&keepAlive=20&ca=/etc/vigil/ca.pem&insecure=false"
        )
        #expect(config.host == "::1")
        #expect(config.port == 18883)
        #expect(config.username == "vigil@site")
        #expect(config.password == "p:ss")
        #expect(config.protocolVersion == .v5)
        #expect(config.clientID == "gw-7")
        #expect(config.keepAlive == .seconds(20))
        #expect(config.tls?.caFile == "/etc/vigil/ca.pem")
        #expect(config.tls?.insecure == false)
        #expect(config.brokerURL == "mqtts://[::1]:18883")
    }

    @Test("descriptions never show the password")
    func redacted() throws {
        let config = try MQTTConfiguration(url: "mqtt://vigil:hunter2@broker:1884?clientId=gw")
        #expect(!config.description.contains("hunter2"))
        #expect(config.description.contains("mqtt://broker:1884"))
    }

    @Test("bad URLs are clear errors", arguments: [
        "broker:1883", "http://broker", "mqtt://", "mqtt://host:0", "mqtt://host:99999", "mqtt://host:abc",
        "mqtt://host/path", "mqtt://host?bogus=1", "mqtt://host?ca=/x.pem", "mqtt://host?version=4.0",
        "mqtt://[::1", "mqtt://host?keepAlive=2", "mqtt://u%zz@host",
    ])
    func invalid(url: String) {
        #expect(throws: MQTTError.self) { try MQTTConfiguration(url: url) }
    }
}

@Suite("Credentials")
struct CredentialsTests {
    @Test("user from the environment, password from a file (first line, newline dropped)")
    func fromEnvironmentAndFile() throws {
        let directory = try TemporaryDirectory()
        let file = try directory.write("s3cret\n", to: "password")
        let credentials = try MQTTCredentials.load(
            usernameEnv: "VIGIL_USER", passwordFile: file, environment: ["VIGIL_USER": "gateway-7"]
        )
        #expect(credentials == MQTTCredentials(username: "gateway-7", password: "s3cret"))
    }

    @Test("nothing configured means anonymous")
    func none() throws {
        #expect(try MQTTCredentials.load(environment: [:]) == nil)
    }

    @Test("named but missing sources are errors")
    func missing() throws {
        let directory = try TemporaryDirectory()
        let empty = try directory.write("\n", to: "empty")
        #expect(throws: MQTTError.self) { try MQTTCredentials.load(usernameEnv: "NOPE", environment: [:]) }
        #expect(throws: MQTTError.self) { try MQTTCredentials.load(username: "u", passwordFile: "/nonexistent", environment: [:]) }
        #expect(throws: MQTTError.self) { try MQTTCredentials.load(username: "u", passwordFile: empty, environment: [:]) }
        #expect(throws: MQTTError.self) { try MQTTCredentials.load(password: "p", environment: [:]) }
    }
}

@Suite("Reconnect backoff")
struct BackoffTests {
    @Test("waits grow to the maximum, stay within [ceiling/2, ceiling] and never below the minimum")
    func bounds() {
        var backoff = MQTTReconnectBackoff(delay: MQTTReconnectDelay(min: .milliseconds(100), max: .seconds(2)))
        var ceilings: [Duration] = []
        for _ in 0..<12 {
            let ceiling = backoff.ceiling
            ceilings.append(ceiling)
            let wait = backoff.next()
            #expect(wait <= ceiling)
            #expect(wait >= max(.milliseconds(100), ceiling / 2))
        }
        #expect(ceilings.prefix(5) == [.milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(800), .milliseconds(1600)])
        #expect(ceilings.suffix(5).allSatisfy { $0 == .seconds(2) })
        backoff.reset()
        #expect(backoff.ceiling == .milliseconds(100))
    }

    @Test("jitter spreads the waits")
    func jitter() {
        var waits = Set<Duration>()
        for _ in 0..<20 {
            var backoff = MQTTReconnectBackoff(delay: MQTTReconnectDelay(min: .milliseconds(100), max: .seconds(10)))
            for _ in 0..<4 { _ = backoff.next() }
            waits.insert(backoff.next())
        }
        #expect(waits.count > 1)
    }
}

@Suite("Configuration checks")
struct ConfigurationTests {
    @Test("invalid configurations are refused before connecting", arguments: [
        MQTTConfiguration(host: ""),
        MQTTConfiguration(port: 0),
        MQTTConfiguration(keepAlive: .seconds(2)),
        MQTTConfiguration(cleanSession: false),
        MQTTConfiguration(password: "no-user"),
        MQTTConfiguration(reconnectDelay: MQTTReconnectDelay(min: .seconds(5), max: .seconds(1))),
        MQTTConfiguration(inboundBufferCapacity: 0),
        MQTTConfiguration(will: MQTTWill(topic: "a/#", payload: "x")),
        MQTTConfiguration(tls: MQTTTLSConfiguration(certificateFile: "/c.pem")),
    ])
    func invalid(configuration: MQTTConfiguration) {
        #expect(throws: MQTTError.self) { try MQTTClient(configuration: configuration, logger: testLogger()) }
    }
}
