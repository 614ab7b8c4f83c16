import Telemetry
import Testing
import VigilSupport

@Suite struct PayloadDecoderTests {
    let sensor = Sensor(id: "pump1.flow", name: "P-101 flow", unit: "m3/h", asset: "pump1",
                        topic: "plant/pump1/flow", samplePeriod: 1)
    let decoder = PayloadDecoder(maximumSize: 256)

    func decode(_ text: String) -> Result<Reading, DecodeFailure> {
        decoder.decode(Array(text.utf8), for: sensor, receivedAt: 5_000)
    }

    @Test func jsonWithTimestampAndQuality() throws {
        let reading = try decode(#"{"ts": 1772431200000, "value": 101.5, "quality": "good"}"#).get()
        #expect(reading == Reading(sensor: "pump1.flow", timestamp: 1_772_431_200_000, value: 101.5))
        let bad = try decode(#"{"ts": "2026-03-02T06:00:00Z", "value": 3, "quality": "bad"}"#).get()
        #expect(bad.quality == .bad)
        #expect(bad.timestamp == 1_772_431_200_000)
    }

    @Test func bareNumberUsesReceiveTime() throws {
        #expect(try decode(" 42.25\n").get() == Reading(sensor: "pump1.flow", timestamp: 5_000, value: 42.25))
    }

    @Test func nestedFieldPath() throws {
        var nested = sensor
        nested.valueField = "data.flow"
        let r = decoder.decode(Array(#"{"data": {"flow": 7}}"#.utf8), for: nested, receivedAt: 1)
        #expect(try r.get().value == 7)
    }

    @Test(arguments: [
        (#"{"value": "#, DecodeFailure.malformed),
        ("hello", .malformed),
        ("", .malformed),
        (#"{"val": 3}"#, .missingValue),
        (#"{"value": "3"}"#, .wrongType),
        (#"{"value": null}"#, .wrongType),
        (#"{"value": [1]}"#, .wrongType),
        (#"{"value": "NaN"}"#, .nonFinite),
        ("NaN", .nonFinite),
        ("-inf", .nonFinite),
        (#"{"value": 1e999}"#, .nonFinite),
        (#"{"value": 1, "ts": "soon"}"#, .badTimestamp),
        (#"{"value": 1, "ts": true}"#, .badTimestamp),
        (#"[1, 2]"#, .malformed),
    ])
    func rejectsWithReason(_ payload: String, _ reason: DecodeFailure) {
        #expect(throws: reason) { try decode(payload).get() }
    }

    @Test func oversizedIsRefusedBeforeParsing() {
        let big = "{\"value\": 1, \"pad\": \"" + String(repeating: "x", count: 400) + "\"}"
        #expect(throws: DecodeFailure.oversized) { try decode(big).get() }
    }

    @Test func deepNestingIsAnErrorNotACrash() {
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(throws: (any Error).self) { try JSONValue.parse(deep) }
    }

    @Test func randomBytesNeverCrash() {
        var state: UInt64 = 12345
        for _ in 0..<5000 {
            var bytes: [UInt8] = []
            for _ in 0..<Int(state % 40) {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                let pick = Int(state >> 59)
                let alphabet = Array(#"{}[]":,0123456789.eE-+ truefalsnul\"#.utf8)
                bytes.append(pick < alphabet.count ? alphabet[pick] : UInt8(truncatingIfNeeded: state >> 32))
            }
            _ = decoder.decode(bytes, for: sensor, receivedAt: 0)
        }
    }

    @Test func jsonStringEscapes() throws {
        let v = try JSONValue.parse(#"{"a": "x\"y\\z\u00e9\ud83d\ude00\n"}"#)
        #expect(v["a"] == .string("x\"y\\zé😀\n"))
        #expect(try JSONValue.parse(JSONText.quoted("é\"\n\u{1}")) == .string("é\"\n\u{1}"))
    }
}
