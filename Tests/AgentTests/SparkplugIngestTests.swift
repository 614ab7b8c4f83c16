import Agent
import Foundation
import Telemetry
import Testing
import VigilTestSupport

/// Sparkplug B NDATA/DDATA through the pipeline: metrics by name, or by the alias a birth announced.
@Suite("Sparkplug B ingest")
struct SparkplugIngestTests {
    static let yaml = """
        plant: test
        site: north
        assets: [{id: pump1, name: Pump P-101}]
        sensors:
          - {id: pump1.flow, asset: pump1, topic: spBv1.0/north/DDATA/gw1/pump1, metric: Flow, unit: m3/h,
             limits: {low: 0, high: 200}}
          - {id: pump1.current, asset: pump1, topic: spBv1.0/north/DDATA/gw1/pump1, metric: Motor/Current, unit: A}
        """
    let data = "spBv1.0/north/DDATA/gw1/pump1"
    let birth = "spBv1.0/north/DBIRTH/gw1/pump1"

    @Test func metricsByNameAndByAliasBecomeReadings() throws {
        let pipeline = Pipeline(catalog: try Catalog.parse(yaml: Self.yaml, file: "plant.yaml"))
        let t0: UInt64 = 1_772_434_800_000
        // The birth announces aliases (and carries current values); "Setpoint" is not in the catalog.
        _ = pipeline.ingest(topic: birth, payload: ProtobufWriter.payload(timestamp: t0, seq: 0, metrics: [
            ProtobufWriter.metric(name: "Flow", alias: 1, .double(100)),
            ProtobufWriter.metric(name: "Motor/Current", alias: 2, .float(30)),
            ProtobufWriter.metric(name: "Setpoint", alias: 3, .double(5)),
        ]), receivedAt: Int64(t0))
        #expect(pipeline.statistics.readings == 2)
        #expect(pipeline.statistics.rejectedTotal == 0)

        // Data by alias only, as edge nodes send it after the birth.
        for i in 1...300 {
            let t = t0 + UInt64(i) * 2000
            let events = pipeline.ingest(topic: data, payload: ProtobufWriter.payload(timestamp: t, seq: UInt64(i % 256), metrics: [
                ProtobufWriter.metric(alias: 1, .double(100 + Double(i % 5) * 0.1)),
                ProtobufWriter.metric(alias: 2, .float(30 + Float(i % 3) * 0.05)),
                ProtobufWriter.metric(alias: 3, .double(5)),
            ]), receivedAt: Int64(t))
            #expect(events.isEmpty)
        }
        #expect(pipeline.statistics.readings == 2 + 600)
        #expect(pipeline.statistics.rejectedTotal == 0)

        // Flow far past its engineering limit, sent by name with its own timestamp: an out-of-range event.
        let t = t0 + 301 * 2000
        let events = pipeline.ingest(topic: data, payload: ProtobufWriter.payload(metrics: [
            ProtobufWriter.metric(name: "Flow", timestamp: t, .double(480)),
        ]), receivedAt: Int64(t))
        let event = try #require(events.first)
        #expect(event.sensor == SensorID("pump1.flow"))
        #expect(event.kind.rawValue == "out_of_range")
        #expect(event.peak == 480)
    }

    @Test func badSparkplugInputIsCountedNotFatal() throws {
        let pipeline = Pipeline(catalog: try Catalog.parse(yaml: Self.yaml, file: "plant.yaml"))
        let now: Int64 = 1_772_434_800_000
        // Garbage, a string where a number belongs, a null, an alias no birth announced.
        _ = pipeline.ingest(topic: data, payload: [0x12, 0xFF, 0x01], receivedAt: now)
        #expect(pipeline.lastRejection == .malformed)
        _ = pipeline.ingest(topic: data, payload: ProtobufWriter.payload(metrics: [
            ProtobufWriter.metric(name: "Flow", .string("high")),
        ]), receivedAt: now)
        #expect(pipeline.lastRejection == .wrongType)
        _ = pipeline.ingest(topic: data, payload: ProtobufWriter.payload(metrics: [
            ProtobufWriter.metric(name: "Motor/Current", .null(datatype: 9)),
        ]), receivedAt: now)
        #expect(pipeline.lastRejection == .missingValue)
        _ = pipeline.ingest(topic: data, payload: ProtobufWriter.payload(metrics: [
            ProtobufWriter.metric(alias: 9, .double(1)),
        ]), receivedAt: now)
        #expect(pipeline.statistics.readings == 0)
        #expect(pipeline.statistics.rejected[.malformed] == 1)
        #expect(pipeline.statistics.rejected[.wrongType] == 1)
        #expect(pipeline.statistics.rejected[.missingValue] == 1)
        // Another device's data is not in the catalog.
        _ = pipeline.ingest(topic: "spBv1.0/north/DDATA/gw1/pump9", payload: [], receivedAt: now)
        #expect(pipeline.lastRejection == .unknownTopic)
        // Then good data still flows.
        _ = pipeline.ingest(topic: data, payload: ProtobufWriter.payload(timestamp: UInt64(now), metrics: [
            ProtobufWriter.metric(name: "Flow", .double(100)),
        ]), receivedAt: now)
        #expect(pipeline.statistics.readings == 1)
        #expect(pipeline.lastRejection == nil)
    }
}
