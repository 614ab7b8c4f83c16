import Agent
import Foundation
import Telemetry
import Testing
import VigilTestSupport

/// What `check-config` accepts, `run` accepts: values that used to pass the check and then crash
/// or fail `run` forever are refused by the one validation both use.
@Suite struct ConfigurationBoundsTests {
    static let minimal = ConfigurationTests.minimal
    static let upstream = "upstream: {url: \"mqtt://u\", "

    @Test(arguments: [
        // Durations that overflowed a millisecond `Duration` and trapped `run` (SIGILL).
        (minimal + "ingest: {max_age: 1e17s}\n", "expected a duration from"),
        (minimal + "ingest: {max_future_skew: 1e300s}\n", "expected a duration from"),
        (minimal + "ingest: {silent_after: 1e17s}\n", "expected 0 or a duration from"),
        (minimal + "narration: {deadline: 1e300s}\n", "expected a duration from"),
        (minimal + "detector: {save_interval: 1e17s}\n", "expected 0 or a duration from"),
        (minimal + upstream + "status_interval: 1e17s}\n", "expected a duration from"),
        (minimal + upstream + "outbox: {max_age: 1e17s}}\n", "expected a duration from"),
        (minimal + upstream + "reconnect: {max: 1e17s}}\n", "expected a duration from"),
        (minimal.replacingOccurrences(of: "url: \"mqtt://127.0.0.1:1883\"", with: "url: \"mqtt://h\", keepalive: 1e17s"),
         "expected 0 (off) or a keepalive from 5s to 65535s"),
        (minimal.replacingOccurrences(of: "url: \"mqtt://127.0.0.1:1883\"", with: "url: \"mqtt://h\", keepalive: 70000s"),
         "expected 0 (off) or a keepalive from 5s to 65535s"),
        (minimal.replacingOccurrences(of: "url: \"mqtt://127.0.0.1:1883\"", with: "url: \"mqtt://h\", reconnect: {min: 0.1ms}"),
         "expected a duration from 1ms"),
        (minimal + "metrics: {listen: \"metrics.example.com:9464\"}\n", "expected an IPv4 or IPv6 address"),
        (minimal + upstream + "topic: \"vigil/+/events\"}\n", "wildcard"),
        (minimal + upstream + "topic: \"vigil/#\"}\n", "wildcard"),
        (minimal + upstream + "topic: \"vigil/a\\nb\"}\n", "control character"),
        (minimal + upstream + "topic: \"vigil/a\\0b\"}\n", "control character"),
        (minimal + upstream + "topic: \"" + String(repeating: "t", count: 70_000) + "\"}\n", "MQTT allows at most 65535"),
        (minimal.replacingOccurrences(of: "url: \"mqtt://127.0.0.1:1883\"", with: "url: \"mqtt://h\", topic_prefix: \"a\\nb\""),
         "control character"),
        (minimal + "narration: {model_sha256: abc}\n", "64 hexadecimal digits"),
        (minimal + upstream + "outbox: {max_bytes_per_second: -1}}\n", "expected 0 (unlimited)"),
        (minimal + "ingest: {max_rate_per_topic: -5}\n", "expected 0 (no limit) or messages per second"),
    ])
    func refusedWithTheKey(_ yaml: String, _ fragment: String) {
        do {
            _ = try AgentConfiguration.parse(yaml: yaml, file: "/etc/vigil/vigil.yaml")
            Issue.record("expected an error containing \(fragment)")
        } catch {
            #expect("\(error)".contains(fragment), "\(error)")
            #expect("\(error)".hasPrefix("/etc/vigil/vigil.yaml"), "\(error)")
        }
    }

    /// Every duration the validation lets through converts to the `Duration`s `run` builds.
    @Test func theLongestAcceptedDurationsStillConvert() throws {
        let yaml = Self.minimal + """
            ingest: {max_age: 3650d, max_future_skew: 3650d, silent_after: 3650d}
            detector: {save_interval: 3650d}
            narration: {deadline: 1h}

            """
        let c = try AgentConfiguration.parse(yaml: yaml)
        for seconds in [c.maxAge, c.maxFutureSkew, c.silentAfter, c.detectorState.saveInterval, c.narrationDeadline] {
            #expect(Int64(exactly: (seconds * 1000).rounded()) != nil)
            _ = Duration.milliseconds(Int64(seconds * 1000))
        }
    }

    @Test func aFloodingTopicIsRateLimitedByDefault() throws {
        #expect(try AgentConfiguration.parse(yaml: Self.minimal).maxRatePerTopic == 1000)
        #expect(try AgentConfiguration.parse(yaml: Self.minimal + "ingest: {max_rate_per_topic: 0}\n").maxRatePerTopic == 0)
    }

    @Test func metricsOnAnAddressLiteral() throws {
        for listen in ["127.0.0.1:9464", "[::1]:9464", "localhost:9464", "0.0.0.0:0"] {
            let c = try AgentConfiguration.parse(yaml: Self.minimal + "metrics: {listen: \"\(listen)\"}\n")
            #expect(c.metricsListen == listen)
        }
    }

    static func catalog(topic: String) -> Catalog {
        var catalog = Catalog.adHoc(columns: ["flow"])
        catalog.sensors[0].topic = topic
        return catalog
    }

    @Test func catalogTopicsAreChecked() throws {
        let c = try AgentConfiguration.parse(yaml: Self.minimal)
        try c.validate(catalog: Self.catalog(topic: "plant/pump1/flow"))
        try c.validate(catalog: Self.catalog(topic: "plant/+/flow"))  // a filter may use wildcards
        #expect(throws: (any Error).self) { try c.validate(catalog: Self.catalog(topic: "plant/a\u{0}b")) }
        #expect(throws: (any Error).self) { try c.validate(catalog: Self.catalog(topic: String(repeating: "x", count: 65_536))) }
    }

    // MARK: the model file

    static func config(model: String, sha256: String? = nil) throws -> AgentConfiguration {
        let digest = sha256.map { ", model_sha256: \($0)" } ?? ""
        return try AgentConfiguration.parse(yaml: Self.minimal + "narration: {model: \(model)\(digest)}\n")
    }

    @Test(arguments: [
        ("empty", "the file is empty"),
        ("random", "not a GGUF file"),
        ("truncated", "is not the expected"),
        ("other", "is not the expected"),
    ])
    func aModelThatIsNotTheExpectedFileIsRefused(_ kind: String, _ fragment: String) throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("model.gguf").path
        var bytes: [UInt8]
        switch kind {
        case "empty": bytes = []
        case "random": bytes = (0..<4096).map { _ in UInt8.random(in: 0...255) }; bytes[0] = 0
        case "truncated": bytes = Array("GGUF".utf8) + [3, 0, 0, 0]
        default: bytes = Array("GGUF".utf8) + Array(repeating: 7, count: 1000)
        }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let c = try Self.config(model: path)
        do {
            _ = try AgentModel.check(configuration: c)
            Issue.record("expected \(fragment)")
        } catch {
            #expect("\(error)".contains(fragment), "\(error)")
            #expect("\(error)".contains("narration.model_sha256"), "\(error)")
        }
    }

    @Test func aModelWithTheConfiguredDigestPasses() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = try dir.write("GGUF-not-really-a-model", to: "model.gguf")
        // sha256 of "GGUF-not-really-a-model"
        let digest = try Self.sha256(of: path)
        #expect(try AgentModel.check(configuration: Self.config(model: path, sha256: digest)) == path)
        #expect(throws: (any Error).self) { try AgentModel.check(configuration: Self.config(model: path)) }
    }

    /// No model file is not an error: `run` uses template text (an install with --no-model).
    @Test func aMissingModelMeansTemplateText() throws {
        let c = try Self.config(model: "/nonexistent/m.gguf")
        #expect(try AgentModel.check(configuration: c) == nil)
        #expect(AgentModel.describe(configuration: c).contains("NO MODEL FOUND"))
    }

    static func sha256(of path: String) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        process.arguments = [path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        process.waitUntilExit()
        let out = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return String(out.prefix(64))
    }
}
