import Foundation
import Logging
import MQTT
import Telemetry

/// `vigil replay --broker`: publishes a recording to a broker as the sensors would, so a recorded
/// incident can be played at a running agent. CSV cells become `{"ts","value","quality"}` payloads
/// on each sensor's catalog topic; JSON-lines captures are published as recorded.
public struct BrokerReplay {
    public var recording: String
    public var catalog: Catalog
    public var broker: MQTTConfiguration
    /// Plant seconds per wall second; nil: as fast as the broker acknowledges.
    public var speed: Double?
    public var qos: Int = 1
    /// Re-base the recording's timestamps onto now (a live agent refuses readings from months ago,
    /// and, beyond `ingest.max_future_skew`, from the future); see `restampOffset`. False keeps them.
    public var restamp = true
    public var progress = false

    public init(recording: String, catalog: Catalog, broker: MQTTConfiguration) {
        self.recording = recording
        self.catalog = catalog
        self.broker = broker
    }

    public struct Report: Sendable {
        public var published: Int
        public var skipped: Int
        public var issues: Int
        public var wallSeconds: Double
    }

    public func run(logger: Logger) async throws -> Report {
        let reader = try RecordingReader(path: recording)
        var columnTopic: [String?] = []
        var columnDecimals: [Int] = []
        // Columns name sensors by id, topic or name, as in offline replay.
        for column in reader.columns {
            let index = catalog.index(of: SensorID(column)) ?? catalog.indexByTopic[column]
                ?? catalog.sensors.firstIndex { $0.name == column }
            columnTopic.append(index.map { catalog.sensors[$0].topic })
            columnDecimals.append(index.map { catalog.sensors[$0].decimals + 2 } ?? 4)
        }
        if reader.format == .csv || !reader.columns.isEmpty, columnTopic.allSatisfy({ $0 == nil }) {
            throw reader.noMatchingColumnsError()
        }
        let client = try MQTTClient(configuration: broker, logger: logger)
        try await client.connect()
        defer { Task { await client.disconnect() } }
        let qos: MQTTQoS = qos == 0 ? .atMostOnce : qos == 2 ? .exactlyOnce : .atLeastOnce
        let wallStart = ContinuousClock.now
        let nowMillis = Int64(Date().timeIntervalSince1970 * 1000)
        let offset = restamp ? try Self.restampOffset(recording: recording, now: nowMillis, speed: speed) : 0
        var first: Int64?
        var published = 0
        var skipped = 0
        let bar = progress ? ProgressBar(total: reader.totalBytes) : nil
        while let item = reader.next() {
            let t = item.timestamp
            let t0 = first ?? t
            first = t0
            if let speed {
                let due = Duration.milliseconds(Double(t - t0) / speed)
                let elapsed = ContinuousClock.now - wallStart
                if due > elapsed { try await Task.sleep(for: due - elapsed) }
            }
            let stamped = t + offset
            let topic: String
            let payload: [UInt8]
            switch item {
            case .sample(let column, _, let value):
                guard let sensorTopic = columnTopic[column] else { skipped += 1; continue }
                topic = sensorTopic
                payload = Self.readingPayload(timestamp: stamped, value: value, decimals: columnDecimals[column])
            case .message(_, let t, .bytes(let bytes)):
                topic = t
                payload = restamp ? Self.restamped(bytes, to: stamped) : bytes
            case .message(_, let t, .json(let json)):
                topic = t
                payload = restamp ? Self.restamped(json, to: stamped) : Array(json.serialized().utf8)
            }
            try await client.publish(topic: topic, payload: payload, qos: qos)
            published += 1
            if published & 0x3FF == 0 { bar?.update(done: reader.bytesRead) }
        }
        bar?.finish()
        await client.disconnect()
        if published == 0 { throw reader.noReadingsError() }
        return Report(published: published, skipped: skipped, issues: reader.issueCount,
                      wallSeconds: (ContinuousClock.now - wallStart) / .seconds(1))
    }

    /// What to add to a recorded timestamp so a default agent accepts it. Paced at plant speed or
    /// slower, the recording starts now and plays like live data; faster (or as fast as possible),
    /// it ends now, so that no reading is stamped ahead of the wall clock (a day's recording
    /// published in seconds would otherwise be refused as from the future).
    public static func restampOffset(first: Int64, last: Int64, now: Int64, speed: Double?) -> Int64 {
        if let speed, speed <= 1 { return now - first }
        return now - last
    }

    static func restampOffset(recording: String, now: Int64, speed: Double?) throws -> Int64 {
        let scan = try RecordingReader(path: recording)
        var first = Int64.max
        var last = Int64.min
        while let item = scan.next() {
            first = min(first, item.timestamp)
            last = max(last, item.timestamp)
        }
        guard first <= last else { return 0 }
        return restampOffset(first: first, last: last, now: now, speed: speed)
    }

    /// The payload a CSV cell becomes: `{"ts":<epoch ms>,"value":<number>,"quality":"good"}`.
    static func readingPayload(timestamp: Int64, value: Double, decimals: Int) -> [UInt8] {
        Array("{\"ts\":\(timestamp),\"value\":\(formatNumber(value, decimals: decimals)),\"quality\":\"good\"}".utf8)
    }

    /// The size of `readingPayload(...)` without building it (replay counts it for every reading):
    /// `{"ts":` 6 bytes, `,"value":` 9, `,"quality":"good"}` 18, and the two numbers.
    static func readingPayloadCount(timestamp: Int64, value: Double, decimals: Int) -> Int {
        33 + String(timestamp).utf8.count + formatNumber(value, decimals: decimals).utf8.count
    }

    /// A JSON object payload with its `ts` replaced; other payloads unchanged.
    static func restamped(_ bytes: [UInt8], to ts: Int64) -> [UInt8] {
        guard let json = try? JSONValue.parse(bytes), case .object = json else { return bytes }
        return restamped(json, to: ts)
    }

    static func restamped(_ json: JSONValue, to ts: Int64) -> [UInt8] {
        guard case .object(var members) = json else { return Array(json.serialized().utf8) }
        if let i = members.firstIndex(where: { $0.0 == "ts" }) { members[i].1 = .number(Double(ts)) }
        return Array(JSONValue.object(members).serialized().utf8)
    }
}

/// `vigil record`: subscribes and writes a JSON-lines recording, the format `vigil replay` reads.
public struct BrokerRecorder {
    public var broker: MQTTConfiguration
    public var filters: [String]
    public var output: String
    /// Stop after this many seconds (nil: until interrupted) or messages.
    public var duration: Double?
    public var maxMessages: Int?

    public init(broker: MQTTConfiguration, filters: [String], output: String) {
        self.broker = broker
        self.filters = filters
        self.output = output
    }

    public func run(logger: Logger) async throws -> Int {
        let writer = try JSONLRecordingWriter(path: output)
        let client = try MQTTClient(configuration: broker, logger: logger)
        try await client.connect()
        for filter in filters { try await client.subscribe(filter, qos: .atLeastOnce) }
        logger.info("recording", metadata: ["filters": "\(filters.joined(separator: " "))", "out": "\(output)"])
        let deadline = duration.map { ContinuousClock.now + .milliseconds(Int64($0 * 1000)) }
        let messages = client.messages
        let stopper = Task {
            if let deadline { try? await Task.sleep(until: deadline) } else { try? await Task.sleep(for: .seconds(86_400 * 365)) }
            await client.disconnect()
        }
        // SIGINT/SIGTERM end the recording cleanly: what was received is flushed.
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        let signalSources = [SIGINT, SIGTERM].map { number in
            let source = DispatchSource.makeSignalSource(signal: number)
            source.setEventHandler { Task { await client.disconnect() } }
            source.resume()
            return source
        }
        defer { signalSources.forEach { $0.cancel() } }
        var count = 0
        var lastFlush = ContinuousClock.now
        for await message in messages {
            let ts = Int64(message.receivedAt.timeIntervalSince1970 * 1000)
            try writer.write(timestamp: ts, topic: message.topic, payload: message.payload)
            count += 1
            if ContinuousClock.now - lastFlush > .seconds(1) {
                try writer.flush()
                lastFlush = .now
            }
            if let maxMessages, count >= maxMessages { break }
            if Task.isCancelled { break }
        }
        stopper.cancel()
        await client.disconnect()
        try writer.close()
        return count
    }
}
