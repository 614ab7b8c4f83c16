import Detection
import Foundation
import Telemetry

/// Reads events for `vigil explain`: a JSON object that is either an `AnomalyEvent` as Vigil encodes
/// it, or an alert message (`event_id`, `facts`, …) as `vigil replay` prints it. One per line in a
/// `.jsonl` file; blank lines and lines starting with `#` are skipped.
public enum EventFile {
    public static func decode(_ json: String) throws -> AnomalyEvent {
        let data = Data(json.utf8)
        if let event = try? JSONDecoder().decode(AnomalyEvent.self, from: data) { return event }
        do {
            return try JSONDecoder().decode(AlertLine.self, from: data).event()
        } catch let error as NarrationError {
            throw error
        } catch {
            throw NarrationError(.invalidEvent, "not an event or alert: \(Self.describe(error))")
        }
    }

    public static func read(file path: String) throws -> [AnomalyEvent] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw NarrationError(.invalidFile, "\(path): cannot read the file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw NarrationError(.invalidFile, "\(path): not UTF-8 text")
        }
        var events: [AnomalyEvent] = []
        for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            do { events.append(try decode(trimmed)) } catch {
                throw NarrationError(.invalidEvent, "\(path):\(n + 1): \(error)")
            }
        }
        return events
    }

    /// One event as a compact JSON line with sorted keys.
    public static func encode(_ event: AnomalyEvent) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(event), as: UTF8.self)
    }

    static func describe(_ error: any Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, let c):
            return "missing \((c.codingPath.map(\.stringValue) + [key.stringValue]).joined(separator: "."))"
        case DecodingError.typeMismatch(_, let c), DecodingError.valueNotFound(_, let c),
             DecodingError.dataCorrupted(let c):
            return "\(c.codingPath.map(\.stringValue).joined(separator: ".")): \(c.debugDescription)"
        default:
            return "\(error)"
        }
    }
}

/// The fields of an alert line that make up its event.
private struct AlertLine: Decodable {
    struct Related: Decodable {
        var sensor: String
        var value: Double
        var baseline: Double
        var deviation: Double
        var score: Double?
    }

    struct Facts: Decodable {
        var baseline: Double
        var peak: Double
        var deviation: Double
        var duration_s: Double
        var limit: Double?
        var related: [Related]?
    }

    var event_id: String
    var stage: String
    var sensor: String
    var asset: String
    var kind: String
    var severity: String
    var score: Double
    var start: String
    var end: String?
    var detected_at: String
    var facts: Facts
    var window: [WindowPoint]?

    func event() throws -> AnomalyEvent {
        guard let stage = EventStage(rawValue: stage) else { throw NarrationError(.invalidEvent, "unknown stage \(stage)") }
        guard let kind = AnomalyKind(rawValue: kind) else { throw NarrationError(.invalidEvent, "unknown kind \(kind)") }
        guard let severity = Severity(rawValue: severity) else {
            throw NarrationError(.invalidEvent, "unknown severity \(severity)")
        }
        guard let start = Timestamp.parse(start), let detected = Timestamp.parse(detected_at) else {
            throw NarrationError(.invalidEvent, "unreadable start or detected_at time")
        }
        let end = try self.end.map { text -> Int64 in
            guard let t = Timestamp.parse(text) else { throw NarrationError(.invalidEvent, "unreadable end time") }
            return t
        }
        return AnomalyEvent(
            id: event_id, stage: stage, sensor: SensorID(sensor), asset: asset, kind: kind, severity: severity,
            score: score, start: start, end: end, detectedAt: detected, baseline: facts.baseline, peak: facts.peak,
            deviation: facts.deviation, duration: facts.duration_s, limit: facts.limit,
            related: (facts.related ?? []).map {
                RelatedDeviation(sensor: SensorID($0.sensor), value: $0.value, baseline: $0.baseline,
                                 deviation: $0.deviation, score: $0.score ?? 0)
            },
            window: window ?? [])
    }
}
