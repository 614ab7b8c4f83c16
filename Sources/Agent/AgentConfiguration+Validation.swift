import Foundation
import MicroLM
import Telemetry

#if canImport(Glibc)
import Glibc
#endif

/// The bounds every value must keep so that what `vigil check-config` accepts, `vigil run` accepts
/// too: one validation, used by both (the decoder calls these; `check-config` adds the catalog and
/// model checks that `run` makes before it starts).
enum ConfigurationBounds {
    /// The longest duration any key takes: ten years. Larger values overflow a `Duration` in
    /// milliseconds or nanoseconds (a trap at start, then a systemd crash loop).
    static let longest: Double = 3650 * 86_400

    /// The MQTT limit on a topic's length, in UTF-8 bytes.
    static let topicBytes = 65_535

    /// What is wrong with `topic` as an MQTT topic name (or filter when `filter` is true); nil when it is fine.
    static func topicProblem(_ topic: String, filter: Bool) -> String? {
        if topic.isEmpty { return "the topic is empty" }
        if topic.utf8.count > topicBytes {
            return "the topic is \(topic.utf8.count) bytes; MQTT allows at most \(topicBytes)"
        }
        if topic.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) {
            return "the topic contains a control character (NUL, newline, ...), which MQTT brokers refuse"
        }
        if !filter, Catalog.hasWildcard(topic) {
            return "the topic contains a wildcard (`+` or `#`), which a publish cannot use"
        }
        return nil
    }

    /// True when `host` is an IPv4 or IPv6 literal (or `localhost`): the metrics server does not resolve names.
    static func isAddressLiteral(_ host: String) -> Bool {
        if host == "localhost" { return true }
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }

    static func describe(_ seconds: Double) -> String {
        if seconds >= 86_400, seconds.truncatingRemainder(dividingBy: 86_400) == 0 { return "\(Int(seconds / 86_400))d" }
        if seconds >= 1 { return String(format: "%gs", seconds) }
        return String(format: "%gms", seconds * 1000)
    }
}

extension ConfigNode {
    /// A duration between `range`'s bounds (in seconds), with an error naming the bounds.
    func seconds(within range: ClosedRange<Double>, allowingZero: Bool = false) throws -> Double {
        let value = try seconds()
        if allowingZero, value == 0 { return 0 }
        guard range.contains(value) else {
            let zero = allowingZero ? "0 or " : ""
            throw error("expected \(zero)a duration from \(ConfigurationBounds.describe(range.lowerBound)) to \(ConfigurationBounds.describe(range.upperBound))")
        }
        return value
    }

    /// A topic string that MQTT can carry.
    func topic(filter: Bool = false) throws -> String {
        let topic = try string()
        if let problem = ConfigurationBounds.topicProblem(topic, filter: filter) { throw error(problem) }
        return topic
    }
}

extension AgentConfiguration {
    /// Checks what `run` needs beyond the file itself: every catalog topic is a valid MQTT topic,
    /// and the topics the agent publishes on fit MQTT's limit. Used by `run` and `check-config`.
    public func validate(catalog: Catalog) throws {
        for sensor in catalog.sensors {
            if let problem = ConfigurationBounds.topicProblem(sensor.topic, filter: true) {
                throw AgentError("\(catalogPath): sensor `\(sensor.name)`: \(problem)")
            }
            let alert = "\(topicPrefix)/\(agentName)/alerts/\(sensor.asset)/\(sensor.id.rawValue)"
            if let problem = ConfigurationBounds.topicProblem(alert, filter: false) {
                throw AgentError("\(catalogPath): sensor `\(sensor.name)`: its alert topic is not valid: \(problem)")
            }
        }
        let events = upstreamTopic ?? "vigil/\(catalog.site)/\(agentName)/events"
        if upstream != nil, let problem = ConfigurationBounds.topicProblem(events, filter: false) {
            throw AgentError("\(file): upstream topic `\(events.prefix(80))`: \(problem)")
        }
    }
}

extension AgentConfiguration {
    /// Checks that `path` is the model this configuration expects: a non-empty GGUF file whose
    /// SHA-256 is `modelSHA256`. An empty, random, truncated or other file is named with what it is.
    public func checkModelFile(at path: String) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw AgentError("narration model `\(path)`: cannot read the file")
        }
        let head = (try? handle.read(upToCount: 4)) ?? Data()
        try? handle.close()
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        let redo = "run deploy/provision-model.sh again, or set narration.model_sha256 to this file's digest if you meant to use another model"
        if size == 0 { throw AgentError("narration model `\(path)`: the file is empty; \(redo)") }
        if head != Data("GGUF".utf8) {
            throw AgentError("narration model `\(path)`: not a GGUF file (\(size) bytes, no GGUF magic); \(redo)")
        }
        let digest = try SHA256.hexDigest(ofFileAt: path)
        guard digest == modelSHA256 else {
            throw AgentError("narration model `\(path)`: SHA-256 \(digest) (\(size) bytes) is not the expected \(modelSHA256): a truncated, damaged or different file; \(redo)")
        }
    }
}
