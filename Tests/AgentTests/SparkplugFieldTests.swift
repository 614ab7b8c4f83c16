import Agent
import Foundation
import Telemetry
import Testing
import VigilTestSupport

/// Field reports on Sparkplug B ingest (issue #14): data types kept from the birth, unknown aliases
/// refused and counted, readings counted per metric.
@Suite("Sparkplug B field fixes")
struct SparkplugFieldTests {
    static let yaml = """
        plant: test
        site: north
        assets: [{id: pump1, name: Pump P-101}]
        sensors:
          - {id: pump1.offset, asset: pump1, topic: spBv1.0/north/DDATA/gw1/pump1, metric: Offset, unit: mm,
             limits: {low: -100, high: 100}}
          - {id: pump1.flow, asset: pump1, topic: spBv1.0/north/DDATA/gw1/pump1, metric: Flow, unit: m3/h}
        """
    let data = "spBv1.0/north/DDATA/gw1/pump1"
    let birth = "spBv1.0/north/DBIRTH/gw1/pump1"
    let t0: UInt64 = 1_772_434_800_000

    /// An Int32 metric without its data type, as Sparkplug 3.0 data messages may send it.
    static func int32WithoutDatatype(name: String? = nil, alias: UInt64? = nil, _ value: Int32) -> [UInt8] {
        var m = ProtobufWriter()
        if let name { m.bytesField(1, Array(name.utf8)) }
        if let alias { m.varintField(2, alias) }
        m.varintField(10, UInt64(UInt32(bitPattern: value)))
        return m.bytes
    }

    @Test func dataWithoutADatatypeIsReadWithTheDatatypeOfTheBirth() throws {
        let pipeline = Pipeline(catalog: try Catalog.parse(yaml: Self.yaml, file: "plant.yaml"))
        _ = pipeline.ingest(topic: birth, payload: ProtobufWriter.payload(timestamp: t0, seq: 0, metrics: [
            ProtobufWriter.metric(name: "Offset", alias: 1, .int(-5, datatype: 3)),   // Int32
            ProtobufWriter.metric(name: "Flow", alias: 2, .double(100)),
        ]), receivedAt: Int64(t0))
        #expect(pipeline.statistics.readings == 2)
        // -5 by alias and by name, datatype left out: Int32 from the birth, not UInt32 4294967291.
        for i in 1...200 {
            let t = t0 + UInt64(i) * 1000
            let byAlias = i % 2 == 0
            let events = pipeline.ingest(topic: data, payload: ProtobufWriter.payload(timestamp: t, seq: UInt64(i % 256), metrics: [
                Self.int32WithoutDatatype(name: byAlias ? nil : "Offset", alias: byAlias ? 1 : nil, -5 + Int32(i % 3)),
            ]), receivedAt: Int64(t))
            #expect(events.isEmpty, "reading \(i): \(events.map { "\($0.kind) peak \($0.peak)" })")
        }
        #expect(pipeline.statistics.readings == 202)
        #expect(pipeline.statistics.rejectedTotal == 0)
        #expect(pipeline.detector.openEvents.isEmpty)
    }

    @Test func anUnknownAliasIsRefusedCountedAndAsksTheNodeForARebirth() throws {
        let pipeline = Pipeline(catalog: try Catalog.parse(yaml: Self.yaml, file: "plant.yaml"))
        // After a restart of the agent: data by alias, no birth seen yet.
        _ = pipeline.ingest(topic: data, payload: ProtobufWriter.payload(timestamp: t0, metrics: [
            ProtobufWriter.metric(alias: 1, .int(3, datatype: 3)),
            ProtobufWriter.metric(alias: 2, .double(100)),
        ]), receivedAt: Int64(t0))
        #expect(pipeline.statistics.readings == 0)
        #expect(pipeline.statistics.rejected[.unknownAlias] == 2)
        #expect(pipeline.lastRejection == .unknownAlias)
        #expect(pipeline.rebirthNeeded == "spBv1.0/north/NCMD/gw1")
        // The birth comes; the same data is read.
        _ = pipeline.ingest(topic: birth, payload: ProtobufWriter.payload(timestamp: t0, seq: 0, metrics: [
            ProtobufWriter.metric(name: "Offset", alias: 1, .int(3, datatype: 3)),
            ProtobufWriter.metric(name: "Flow", alias: 2, .double(100)),
            ProtobufWriter.metric(name: "Setpoint", alias: 3, .double(5)),
        ]), receivedAt: Int64(t0))
        #expect(pipeline.rebirthNeeded == nil)
        _ = pipeline.ingest(topic: data, payload: ProtobufWriter.payload(timestamp: t0 + 1000, metrics: [
            ProtobufWriter.metric(alias: 1, .int(3, datatype: 3)),
            ProtobufWriter.metric(alias: 2, .double(100)),
            ProtobufWriter.metric(alias: 3, .double(5)),   // announced, not Vigil's: passed over
        ]), receivedAt: Int64(t0 + 1000))
        #expect(pipeline.statistics.readings == 4)
        #expect(pipeline.statistics.rejected[.unknownAlias] == 2)
        #expect(pipeline.rebirthNeeded == nil)
        #expect(pipeline.lastRejection == nil)
    }

    @Test func theRebirthRequestIsNodeControlRebirthTrue() throws {
        let request = try SparkplugPayload.decode(SparkplugPayload.rebirthRequest(timestamp: t0))
        #expect(request.timestamp == t0)
        let metric = try #require(request.metrics.first)
        #expect(request.metrics.count == 1)
        #expect(metric.name == "Node Control/Rebirth")
        #expect(metric.datatype == 11)
        #expect(metric.value == .bool(true))
    }

    @Test func oneBadMetricKeepsTheEventsOfTheGoodOnes() throws {
        let pipeline = Pipeline(catalog: try Catalog.parse(yaml: Self.yaml, file: "plant.yaml"))
        for i in 0..<300 {
            let t = t0 + UInt64(i) * 1000
            _ = pipeline.ingest(topic: data, payload: ProtobufWriter.payload(timestamp: t, metrics: [
                ProtobufWriter.metric(name: "Offset", .int(Int32(i % 3), datatype: 3)),
                ProtobufWriter.metric(name: "Flow", .double(100 + Double(i % 4))),
            ]), receivedAt: Int64(t))
        }
        let t = t0 + 300_000
        let events = pipeline.ingest(topic: data, payload: ProtobufWriter.payload(timestamp: t, metrics: [
            ProtobufWriter.metric(name: "Offset", .int(900, datatype: 3)),
            ProtobufWriter.metric(name: "Flow", .double(.nan)),
        ]), receivedAt: Int64(t))
        #expect(events.map(\.kind.rawValue) == ["out_of_range"])
        #expect(pipeline.statistics.readings == 601)
        #expect(pipeline.statistics.rejected[.nonFinite] == 1)
        // The message had a refusal, and its good reading's event is returned all the same.
        #expect(pipeline.lastRejection == .nonFinite)
    }
}
