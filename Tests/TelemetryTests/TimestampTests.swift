import Testing
import Telemetry

@Suite struct TimestampTests {
    @Test(arguments: [
        ("2026-03-02T06:00:00Z", Int64(1_772_431_200_000)),
        ("2026-03-02T06:00:00.250Z", 1_772_431_200_250),
        ("2026-03-02T08:00:00+02:00", 1_772_431_200_000),
        ("2026-03-02 06:00:00", 1_772_431_200_000),
        ("1772431200", 1_772_431_200_000),
        ("1772431200000", 1_772_431_200_000),
        ("1772431200.5", 1_772_431_200_500),
        ("1970-01-01T00:00:00Z", 0),
        ("2000-02-29T12:30:15.5Z", 951_827_415_500),
    ])
    func parses(_ text: String, _ expected: Int64) {
        #expect(Timestamp.parse(text) == expected)
    }

    @Test(arguments: ["", "yesterday", "2026-13-01T00:00:00Z", "2026-03-02T25:00:00Z", "2026-03-02T06:00:00Zjunk", "nan", "inf"])
    func rejects(_ text: String) {
        #expect(Timestamp.parse(text) == nil)
    }

    @Test func formatsAndParsesBack() {
        for millis: Int64 in [0, 1_772_431_200_250, 951_827_415_500, 4_102_444_799_999] {
            #expect(Timestamp.parse(Timestamp.rfc3339(millis)) == millis)
        }
        #expect(Timestamp.rfc3339(1_772_431_200_250) == "2026-03-02T06:00:00.250Z")
    }
}
