import Foundation
import Telemetry
import Testing
import VigilTestSupport

@Suite("Sparkplug B")
struct SparkplugTests {
    @Test func decodesEveryScalarTypeWithItsSign() throws {
        let payload = ProtobufWriter.payload(timestamp: 1_772_434_800_000, seq: 7, metrics: [
            ProtobufWriter.metric(name: "Pump/Flow", alias: 3, timestamp: 1_772_434_800_123, .double(101.25)),
            ProtobufWriter.metric(name: "i8", .int(-5, datatype: 1)),
            ProtobufWriter.metric(name: "i16", .int(-300, datatype: 2)),
            ProtobufWriter.metric(name: "i32", .int(-70_000, datatype: 3)),
            ProtobufWriter.metric(name: "u32", .int(Int32(bitPattern: 4_000_000_000), datatype: 7)),
            ProtobufWriter.metric(name: "i64", .long(-9_000_000_000)),
            ProtobufWriter.metric(name: "f", .float(2.5)),
            ProtobufWriter.metric(name: "b", .bool(true)),
            ProtobufWriter.metric(name: "s", .string("running")),
            ProtobufWriter.metric(name: "n", .null(datatype: 10)),
        ])
        let decoded = try SparkplugPayload.decode(payload)
        #expect(decoded.timestamp == 1_772_434_800_000)
        #expect(decoded.seq == 7)
        let byName = Dictionary(uniqueKeysWithValues: decoded.metrics.map { ($0.name ?? "", $0) })
        #expect(byName["Pump/Flow"]?.alias == 3)
        #expect(byName["Pump/Flow"]?.timestamp == 1_772_434_800_123)
        #expect(byName["Pump/Flow"]?.number == 101.25)
        #expect(byName["i8"]?.number == -5)
        #expect(byName["i16"]?.number == -300)
        #expect(byName["i32"]?.number == -70_000)
        #expect(byName["u32"]?.number == 4_000_000_000)
        #expect(byName["i64"]?.number == -9_000_000_000)
        #expect(byName["f"]?.number == 2.5)
        #expect(byName["b"]?.number == 1)
        #expect(byName["s"]?.value == .other)
        #expect(byName["s"]?.number == nil)
        #expect(byName["n"]?.isNull == true)
        #expect(byName["n"]?.number == nil)
    }

    @Test func everyTruncationIsAnErrorNeverACrash() throws {
        let payload = ProtobufWriter.payload(timestamp: 1, seq: 2, metrics: [
            ProtobufWriter.metric(name: "a", alias: 1, .double(1)), ProtobufWriter.metric(alias: 1, .float(2)),
        ])
        #expect(throws: Never.self) { try SparkplugPayload.decode(payload) }
        var failures = 0
        for cut in 0..<payload.count {
            do { _ = try SparkplugPayload.decode(Array(payload[..<cut])) } catch { failures += 1 }
        }
        // Cuts on a field boundary are valid shorter payloads; every other cut is refused.
        #expect(failures > payload.count / 2)
    }

    @Test func hostileBytesAreRefusedCleanly() {
        // A length far past the end, a 11-byte varint, wire types 3/4/6/7, field number 0.
        let hostile: [[UInt8]] = [
            [0x12, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F], [0x08] + [UInt8](repeating: 0xFF, count: 10) + [0x01],
            [0x0B], [0x0C], [0x0E], [0x0F], [0x00, 0x00], [0x12, 0x02, 0x0A, 0x05],
        ]
        for bytes in hostile {
            #expect(throws: SparkplugError.self) { try SparkplugPayload.decode(bytes) }
        }
        // Seeded random bytes and flips of a valid payload: decode or refuse, never crash.
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> UInt64 {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return state
        }
        let valid = ProtobufWriter.payload(timestamp: 5, metrics: [ProtobufWriter.metric(name: "x", .double(3))])
        for _ in 0..<3000 {
            var bytes = valid
            for _ in 0..<Int(next() % 4 + 1) { bytes[Int(next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: next()) }
            _ = try? SparkplugPayload.decode(bytes)
            let random = (0..<Int(next() % 64)).map { _ in UInt8(truncatingIfNeeded: next()) }
            _ = try? SparkplugPayload.decode(random)
        }
    }

    @Test func topics() throws {
        let device = try #require(SparkplugTopic("spBv1.0/north/DDATA/gw1/pump1"))
        #expect(device.isData)
        #expect(device.birthTopic == "spBv1.0/north/DBIRTH/gw1/pump1")
        let node = try #require(SparkplugTopic("spBv1.0/north/NDATA/gw1"))
        #expect(node.isData)
        #expect(node.birthTopic == "spBv1.0/north/NBIRTH/gw1")
        #expect(try #require(SparkplugTopic(node.birthTopic)).dataTopic == node.with(messageType: "NDATA"))
        #expect(SparkplugTopic("spBv1.0/north/DDATA/gw1")?.isData == false, "DDATA needs a device")
        #expect(SparkplugTopic("plant/north/pump1/flow") == nil)
        #expect(SparkplugTopic("spBv1.0//DDATA/gw1/x") == nil)
    }

    static let yaml = """
        plant: test
        site: north
        assets: [{id: pump1, name: Pump P-101}]
        sensors:
          - {id: pump1.flow, asset: pump1, topic: spBv1.0/north/DDATA/gw1/pump1, metric: Flow, unit: m3/h}
          - {id: pump1.current, asset: pump1, topic: spBv1.0/north/DDATA/gw1/pump1, metric: Motor/Current, unit: A}
          - {id: pump1.temp, asset: pump1, topic: plant/north/pump1/temp}
        """

    @Test func catalogSensorsShareADataTopicByMetric() throws {
        let catalog = try Catalog.parse(yaml: Self.yaml, file: "plant.yaml")
        #expect(catalog.sparkplugByTopic["spBv1.0/north/DDATA/gw1/pump1"] == ["Flow": 0, "Motor/Current": 1])
        #expect(catalog.indexByTopic == ["plant/north/pump1/temp": 2])
        #expect(catalog.subscriptionTopics == ["spBv1.0/north/DDATA/gw1/pump1", "spBv1.0/north/DBIRTH/gw1/pump1",
                                               "plant/north/pump1/temp"])
        // The same metric twice, a metric on a non-Sparkplug topic, a plain sensor on a Sparkplug sensor's topic.
        let bad: [(String, String)] = [
            (Self.yaml.replacingOccurrences(of: "metric: Motor/Current", with: "metric: Flow"), "metric `Flow`"),
            (Self.yaml.replacingOccurrences(of: "topic: plant/north/pump1/temp}", with: "topic: plant/north/pump1/temp, metric: T}"),
             "needs an NDATA or DDATA topic"),
            (Self.yaml.replacingOccurrences(of: "topic: plant/north/pump1/temp}", with: "topic: spBv1.0/north/DDATA/gw1/pump1}"),
             "already used"),
        ]
        for (yaml, message) in bad {
            do {
                _ = try Catalog.parse(yaml: yaml, file: "plant.yaml")
                Issue.record("accepted: \(message)")
            } catch {
                #expect("\(error)".contains(message), "\(error)")
                #expect("\(error)".contains("plant.yaml:"), "no line in \(error)")
            }
        }
    }
}
