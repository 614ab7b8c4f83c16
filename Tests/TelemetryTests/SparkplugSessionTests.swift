import Telemetry
import Testing
import VigilTestSupport

/// The Sparkplug B session on its own: what a birth announces, and a data message read into readings
/// and refusals in payload order.
@Suite("Sparkplug B session")
struct SparkplugSessionTests {
    static let yaml = """
        plant: test
        site: north
        assets: [{id: pump1, name: Pump P-101}]
        sensors:
          - {id: pump1.offset, asset: pump1, topic: spBv1.0/north/DDATA/gw1/pump1, metric: Offset, unit: mm}
          - {id: pump1.flow, asset: pump1, topic: spBv1.0/north/DDATA/gw1/pump1, metric: Flow, unit: m3/h}
        """
    let data = "spBv1.0/north/DDATA/gw1/pump1"
    let birth = "spBv1.0/north/DBIRTH/gw1/pump1"

    @Test func aliasesAreKnownOnlyAfterABirthAndItemsKeepPayloadOrder() throws {
        let catalog = try Catalog.parse(yaml: Self.yaml, file: "plant.yaml")
        var session = SparkplugSession()
        let byAlias = ProtobufWriter.payload(timestamp: 1000, seq: 1, metrics: [
            ProtobufWriter.metric(alias: 2, .double(7)),
            ProtobufWriter.metric(name: "Offset", .double(.nan)),
            ProtobufWriter.metric(name: "Flow", .double(8)),
            ProtobufWriter.metric(name: "Not ours", .double(9)),
        ])
        let readBefore = session.read(topic: data, payload: byAlias, receivedAt: 5000, catalog: catalog)
        let before = try #require(readBefore)
        #expect(before.items == [
            .refused(.unknownAlias), .refused(.nonFinite),
            .reading(index: 1, Reading(sensor: catalog.sensors[1].id, timestamp: 1000, value: 8)),
        ])
        #expect(before.rebirthTopic == "spBv1.0/north/NCMD/gw1")

        let announced = ProtobufWriter.payload(timestamp: 900, seq: 0, metrics: [
            ProtobufWriter.metric(name: "Offset", alias: 1, .double(1)),
            ProtobufWriter.metric(name: "Flow", alias: 2, .double(2)),
        ])
        let readBirth = session.read(topic: birth, payload: announced, receivedAt: 5000, catalog: catalog)
        let born = try #require(readBirth)
        #expect(born.items.count == 2 && born.rebirthTopic == nil)
        let readAfter = session.read(topic: data, payload: byAlias, receivedAt: 5000, catalog: catalog)
        let after = try #require(readAfter)
        #expect(after.items.first == .reading(index: 1, Reading(sensor: catalog.sensors[1].id, timestamp: 1000, value: 7)))
        #expect(after.rebirthTopic == nil)
    }

    @Test func foreignTopicsOversizedAndMalformedPayloads() throws {
        let catalog = try Catalog.parse(yaml: Self.yaml, file: "plant.yaml")
        var session = SparkplugSession()
        #expect(session.read(topic: "spBv1.0/north/DDATA/gw9/other", payload: [], receivedAt: 0, catalog: catalog) == nil)
        #expect(session.read(topic: "plant/x", payload: [], receivedAt: 0, catalog: catalog) == nil)
        #expect(session.read(topic: data, payload: [0x12, 0xFF, 0xFF], receivedAt: 0, catalog: catalog)?.items == [.refused(.malformed)])
        session.maximumPayloadSize = 4
        #expect(session.read(topic: data, payload: [UInt8](repeating: 0, count: 5), receivedAt: 0, catalog: catalog)?.items
                == [.refused(.oversized)])
    }
}
