import Foundation
import Telemetry
import Testing
import VigilTestSupport

/// The layouts users have that used to give 0 readings (and exit 0): decimal commas, long CSV,
/// Telegraf JSON, InfluxDB line protocol.
@Suite struct RecordingFormatsTests {
    func read(_ text: String, name: String) throws -> (RecordingReader, [(String, Int64, Double)]) {
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let path = try directory.write(text, to: name)
        let reader = try RecordingReader(path: path)
        var out: [(String, Int64, Double)] = []
        while let item = reader.next() {
            guard case .sample(let column, let t, let v) = item else { Issue.record("unexpected \(item)"); continue }
            out.append((reader.columns[column], t, v))
        }
        return (reader, out)
    }

    @Test func decimalCommaWithSemicolons() throws {
        let (reader, items) = try read("""
            timestamp;pump1.flow;pump1.suction_pressure
            2026-03-01T00:00:00Z;1,5;-0,25
            2026-03-01T00:00:02Z;12;3,75

            """, name: "european.csv")
        #expect(reader.issueCount == 0, "\(reader.issues)")
        #expect(items.map(\.2) == [1.5, -0.25, 12, 3.75])
        #expect(reader.columns == ["pump1.flow", "pump1.suction_pressure"])
    }

    @Test func europeanDates() throws {
        let (reader, items) = try read("Zeit;flow\n01.03.2026 00:00:02;1,5\n01.03.2026 00:01;2\n", name: "de.csv")
        #expect(reader.issueCount == 0, "\(reader.issues)")
        #expect(items.map(\.1) == [1_772_323_202_000, 1_772_323_260_000])
    }

    @Test func longCSVIsServedInTimeOrder() throws {
        let (reader, items) = try read("""
            ts,sensor,value
            2026-03-01T00:00:02Z,pump1.flow,2
            2026-03-01T00:00:00Z,pump1.flow,1
            2026-03-01T00:00:00Z,tank.level,7.5
            2026-03-01T00:00:02Z,tank.level,x

            """, name: "long.csv")
        #expect(reader.layout == "long CSV")
        #expect(reader.columns == ["pump1.flow", "tank.level"])
        #expect(items.map(\.0) == ["pump1.flow", "tank.level", "pump1.flow"])
        #expect(items.map(\.2) == [1, 7.5, 2])
        #expect(reader.issueCount == 1)
    }

    @Test func telegrafJSON() throws {
        let (reader, items) = try read("""
            {"fields":{"value":12.5},"name":"mqtt_consumer","tags":{"host":"gw","topic":"plant/pump1/flow"},"timestamp":1772323200}
            {"fields":{"flow":13,"running":true,"state":"on"},"name":"pump1","tags":{"host":"gw"},"timestamp":1772323202}

            """, name: "telegraf.json")
        #expect(reader.layout == "Telegraf JSON")
        #expect(items.map(\.0) == ["plant/pump1/flow", "pump1.flow", "pump1.running"])
        #expect(items.map(\.1) == [1_772_323_200_000, 1_772_323_202_000, 1_772_323_202_000])
        #expect(items.map(\.2) == [12.5, 13, 1])
    }

    @Test func influxLineProtocol() throws {
        let (reader, items) = try read("""
            # exported by influx
            pump1,host=gw flow=12.5,rpm=1450i 1772323200000000000
            mqtt_consumer,topic=plant/tank/level value=3.25 1772323201000000000
            weird\\ name,host=a\\,b value=1 1772323202000000000
            pump1 flow=oops 1772323203000000000
            pump1 flow=1

            """, name: "export.lp")
        #expect(reader.layout == "line protocol")
        #expect(items.map(\.0) == ["pump1.flow", "pump1.rpm", "plant/tank/level", "weird name.value"])
        #expect(items.map(\.2) == [12.5, 1450, 3.25, 1])
        #expect(items[0].1 == 1_772_323_200_000)
        #expect(reader.issueCount == 2)
    }

    @Test func lineProtocolIsRecognisedWithoutItsExtension() throws {
        let (reader, items) = try read("pump1,host=gw flow=12.5 1772323200000\n", name: "export.txt")
        #expect(reader.layout == "line protocol")
        #expect(items.count == 1)
    }

    @Test func aWideCSVIsStillWide() throws {
        let (reader, items) = try read("timestamp,pump1.flow\n2026-03-01T00:00:00Z,1.5\n", name: "wide.csv")
        #expect(reader.layout == "wide CSV")
        #expect(items.map(\.2) == [1.5])
    }
}
