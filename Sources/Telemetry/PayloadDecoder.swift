/// Why a payload could not become a reading. Each reason is counted separately by the agent.
public enum DecodeFailure: String, Error, Sendable, CaseIterable, CustomStringConvertible {
    case oversized
    case malformed
    case missingValue = "missing_value"
    case wrongType = "wrong_type"
    case nonFinite = "non_finite"
    case badTimestamp = "bad_timestamp"
    case unknownTopic = "unknown_topic"
    case badQuality = "bad_quality"
    case fromFuture = "from_future"
    case tooOld = "too_old"
    /// A Sparkplug B metric sent by an alias that no birth certificate announced (since this agent started).
    case unknownAlias = "unknown_alias"
    /// A value whose magnitude no physical reading has (see `Pipeline.maximumMagnitude`).
    case implausible

    public var description: String {
        switch self {
        case .oversized: "payload larger than the limit"
        case .malformed: "not valid JSON or a number"
        case .missingValue: "the value field is missing"
        case .wrongType: "the value is not a number"
        case .nonFinite: "the value is NaN or infinite"
        case .badTimestamp: "the timestamp cannot be read"
        case .unknownTopic: "no sensor in the catalog publishes on this topic"
        case .badQuality: "the source marked the reading bad"
        case .fromFuture: "the timestamp is too far in the future"
        case .tooOld: "the timestamp is too far in the past"
        case .unknownAlias: "a Sparkplug B alias that no birth announced (a rebirth is requested)"
        case .implausible: "the value's magnitude is beyond any physical reading"
        }
    }
}

/// Turns a raw payload (JSON object, bare number) into a `Reading` for one sensor.
public struct PayloadDecoder: Sendable {
    /// Payloads above this size are refused before parsing.
    public var maximumSize: Int

    public init(maximumSize: Int = 4096) {
        self.maximumSize = maximumSize
    }

    /// Decodes `payload` for `sensor`. `receivedAt` (ms) is the timestamp when the payload carries none.
    public func decode(_ payload: [UInt8], for sensor: Sensor, receivedAt: Int64) -> Result<Reading, DecodeFailure> {
        payload.withUnsafeBytes { decode($0, for: sensor, receivedAt: receivedAt) }
    }

    public func decode(_ payload: UnsafeRawBufferPointer, for sensor: Sensor, receivedAt: Int64) -> Result<Reading, DecodeFailure> {
        guard payload.count <= maximumSize else { return .failure(.oversized) }
        var first = 0
        while first < payload.count, payload[first] == 0x20 || payload[first] == 0x09 || payload[first] == 0x0A || payload[first] == 0x0D {
            first += 1
        }
        guard first < payload.count else { return .failure(.malformed) }
        if payload[first] != UInt8(ascii: "{") {
            // A bare number (the timestamp is the receive time).
            guard let text = String(validating: payload, as: UTF8.self) else { return .failure(.malformed) }
            let trimmed = text.filter { !$0.isWhitespace }
            guard let value = Double(trimmed) else {
                if trimmed.lowercased().contains("nan") || trimmed.lowercased().contains("inf") { return .failure(.nonFinite) }
                return .failure(.malformed)
            }
            guard value.isFinite else { return .failure(.nonFinite) }
            return .success(Reading(sensor: sensor.id, timestamp: receivedAt, value: value))
        }
        let json: JSONValue
        do {
            json = try JSONValue.parse(payload)
        } catch {
            return .failure(.malformed)
        }
        return decode(json, for: sensor, receivedAt: receivedAt)
    }

    /// Decodes an already parsed JSON object (as found inside a JSON-lines recording).
    public func decode(_ json: JSONValue, for sensor: Sensor, receivedAt: Int64) -> Result<Reading, DecodeFailure> {
        let valueNode: JSONValue
        if case .number = json {
            valueNode = json
        } else {
            guard let v = json.value(atPath: sensor.valueField) else { return .failure(.missingValue) }
            valueNode = v
        }
        let value: Double
        switch valueNode {
        case .number(let v): value = v
        case .bool(let b): value = b ? 1 : 0
        case .string(let s):
            let lowered = s.lowercased()
            if lowered == "nan" || lowered.hasSuffix("inf") || lowered.hasSuffix("infinity") { return .failure(.nonFinite) }
            return .failure(.wrongType)
        default: return .failure(.wrongType)
        }
        guard value.isFinite else { return .failure(.nonFinite) }
        var timestamp = receivedAt
        if case .object = json, let ts = json.value(atPath: sensor.timestampField) {
            switch ts {
            case .number(let n):
                guard let t = Timestamp.fromEpochNumber(n) else { return .failure(.badTimestamp) }
                timestamp = t
            case .string(let s):
                guard let t = Timestamp.parse(s) else { return .failure(.badTimestamp) }
                timestamp = t
            case .null: break
            default: return .failure(.badTimestamp)
            }
        }
        var quality = Quality.good
        if case .object = json, case .string(let q)? = json.value(atPath: sensor.qualityField) {
            switch q.lowercased() {
            case "good", "ok": quality = .good
            case "bad": quality = .bad
            default: quality = .uncertain
            }
        }
        return .success(Reading(sensor: sensor.id, timestamp: timestamp, value: value, quality: quality))
    }
}
