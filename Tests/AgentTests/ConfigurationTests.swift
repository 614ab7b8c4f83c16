import Agent
import Foundation
import MQTT
import Testing
import VigilTestSupport

@Suite struct ConfigurationTests {
    @Test func exampleConfigurationLoads() throws {
        let config = try AgentConfiguration.load(file: RepositoryPaths.file("deploy/vigil.example.yaml"))
        #expect(config.agentName == "gw-north-01")
        #expect(config.local == (try MQTTConfiguration(url: "mqtt://127.0.0.1:1883", clientID: "vigil-gw-north-01")))
        #expect(config.narrationDeadline == 1.5)
        #expect(config.upstream == nil)
        #expect(config.outbox.path == "/var/lib/vigil/outbox.db")
        #expect(config.metricsListen == "127.0.0.1:9464")
    }

    @Test(arguments: [
        ("mqtt://localhost", "localhost", 1883, false),
        ("mqtts://broker.plant:8884", "broker.plant", 8884, true),
        ("mqtt://[::1]:1999", "::1", 1999, false),
        ("tcp://10.0.0.5:1883/", "10.0.0.5", 1883, false),
        // One grammar with MQTTConfiguration(url:): tls:// is mqtts, user info is not part of the host.
        ("tls://broker.plant", "broker.plant", 8883, true),
        ("mqtt://vigil@10.0.0.5:1884", "10.0.0.5", 1884, false),
    ])
    func brokerURLs(_ url: String, _ host: String, _ port: Int, _ tls: Bool) throws {
        let b = try MQTTConfiguration(url: url, clientID: "c")
        #expect(b.host == host && b.port == port && (b.tls != nil) == tls && b.clientID == "c")
        // The configuration file's `url:` reads the same URL the same way.
        let yaml = Self.minimal.replacingOccurrences(of: "mqtt://127.0.0.1:1883", with: url)
        #expect(try AgentConfiguration.parse(yaml: yaml).local == MQTTConfiguration(url: url, clientID: "vigil-gw1"))
    }

    @Test(arguments: ["http://x", "mqtt://", "mqtt://host:0", "mqtt://host:99999", "mqtt://host:abc", "host:1883",
                      "mqtt://host/path", "mqtt://host?bogus=1", "mqtt://host?ca=/x.pem"])
    func badBrokerURLs(_ url: String) {
        #expect(throws: MQTTError.self) { try MQTTConfiguration(url: url, clientID: "c") }
    }

    @Test func brokerURLOptionsAndUserAreKeptAndAPasswordInTheFileIsRefused() throws {
        let b = try MQTTConfiguration(url: "mqtts://ops@broker:8884?version=5&keepAlive=45&ca=/etc/vigil/ca.pem&clientId=gw", clientID: "c")
        #expect(b.username == "ops" && b.password == nil && b.protocolVersion == .v5 && b.keepAlive == .seconds(45))
        #expect(b.tls?.caFile == "/etc/vigil/ca.pem" && b.clientID == "gw")
        #expect(try MQTTConfiguration(url: "mqtt://h", clientID: "c").keepAlive == .seconds(30))
        let yaml = Self.minimal.replacingOccurrences(of: "mqtt://127.0.0.1:1883", with: "mqtt://vigil:secret@127.0.0.1:1883")
        #expect { try AgentConfiguration.parse(yaml: yaml) } throws: { "\($0)".contains("passwords do not go in the configuration file") }
        let bad = Self.minimal.replacingOccurrences(of: "mqtt://127.0.0.1:1883", with: "mqtt://127.0.0.1:1883/x")
        #expect { try AgentConfiguration.parse(yaml: bad) } throws: { "\($0)".contains("a broker URL has no path") }
    }

    static let minimal = """
        agent: {name: gw1, catalog: plant.yaml}
        local: {url: "mqtt://127.0.0.1:1883"}

        """

    @Test(arguments: [
        ("local: {url: x}\n", "missing required key `agent`"),
        (minimal.replacingOccurrences(of: "name: gw1", with: "name: gw/1"), "expected an agent name"),
        (minimal.replacingOccurrences(of: "mqtt://127.0.0.1:1883", with: "http://x"), "expected mqtt://host"),
        (minimal + "narration: {deadline: -1s}\n", "expected a duration"),
        (minimal + "narration: {queue: 0}\n", "expected a queue of 1 to 1024"),
        (minimal + "naration: {}\n", "did you mean `narration`"),
        (minimal + "upstream: {url: \"mqtt://u\", outbox: {policy: drop_random}}\n", "expected one of drop_oldest_lowest_severity"),
        (minimal.replacingOccurrences(of: "url: \"mqtt://127.0.0.1:1883\"", with: "url: \"mqtt://h\", password: hunter2"),
         "passwords do not go in the configuration file"),
        (minimal + "upstream: {url: \"mqtt://u\", password_env: VIGIL_SURELY_UNSET_VARIABLE}\n", "is not set"),
        (minimal.replacingOccurrences(of: "url: \"mqtt://127.0.0.1:1883\"", with: "url: \"mqtt://h\", tls: {cert_file: /etc/hostname}"),
         "both `cert_file` and `key_file`"),
        ("version: 9\n" + minimal, "configuration version 1 to 1"),
        (minimal + "metrics: {listen: nowhere}\n", "expected host:port"),
        (minimal + "logging: {level: loud}\n", "expected one of trace"),
    ])
    func preciseErrors(_ yaml: String, _ fragment: String) {
        do {
            _ = try AgentConfiguration.parse(yaml: yaml, file: "/etc/vigil/vigil.yaml")
            Issue.record("expected an error containing \(fragment)")
        } catch {
            #expect("\(error)".contains(fragment), "\(error)")
            #expect("\(error)".hasPrefix("/etc/vigil/vigil.yaml"), "\(error)")
        }
    }

    @Test func relativePathsResolveAgainstTheFile() throws {
        let config = try AgentConfiguration.parse(yaml: Self.minimal + "narration: {model: m/x.gguf}\n", file: "/etc/vigil/vigil.yaml")
        #expect(config.catalogPath == "/etc/vigil/plant.yaml")
        #expect(config.modelPath == "/etc/vigil/m/x.gguf")
    }

    @Test func credentialsFromFileAndEnvironment() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("vigil-cfg-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let secret = dir.appendingPathComponent("pw").path
        try "s3cret\n".write(toFile: secret, atomically: true, encoding: .utf8)
        setenv("VIGIL_TEST_USER", "operator", 1)
        let yaml = Self.minimal.replacingOccurrences(
            of: "url: \"mqtt://127.0.0.1:1883\"",
            with: "url: \"mqtt://127.0.0.1:1883\", username_env: VIGIL_TEST_USER, password_file: \(secret)")
        let config = try AgentConfiguration.parse(yaml: yaml)
        #expect(config.local.username == "operator")
        #expect(config.local.password == "s3cret")
    }
}
