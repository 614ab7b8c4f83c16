/// What Sparkplug B births announced, per data topic, and the reading of data messages against it:
/// metrics named, or sent by the aliases a birth gave them; data types left out of data messages
/// (Sparkplug 3.0) taken from the birth.
///
/// One owner: the pipeline that ingests the messages. Births are not retained by brokers, so after a
/// restart alias-only data is unknown until the edge node is asked to rebirth (`Message.rebirthTopic`).
public struct SparkplugSession: Sendable {
    /// One metric of a message, in payload order: a reading of a catalog sensor, or why it was refused.
    public enum Item: Sendable, Equatable {
        case reading(index: Int, Reading)
        case refused(DecodeFailure)
    }

    /// A Sparkplug message read against the catalog and the births seen.
    public struct Message: Sendable, Equatable {
        public var items: [Item] = []
        /// The NCMD topic of an edge node that sent aliases no birth announced: ask it to rebirth.
        public var rebirthTopic: String?
    }

    /// What a birth announced for one data topic.
    private struct Birth: Sendable {
        struct Announced: Sendable {
            /// The catalog sensor, or nil for a metric that is not Vigil's.
            var index: Int?
            var datatype: UInt32?
        }

        var aliases: [UInt64: Announced] = [:]
        /// Data types by metric name: Sparkplug 3.0 data messages may leave them out.
        var datatypes: [String: UInt32] = [:]
    }

    /// A payload larger than this is refused (a birth can list many metrics).
    public var maximumPayloadSize = 256 * 1024
    private var births: [String: Birth] = [:]

    public init() {}

    /// Reads an NDATA/DDATA message, or the NBIRTH/DBIRTH that announces the metrics and aliases of a
    /// data topic of `catalog`. Metrics the catalog does not name are not Vigil's and are passed over;
    /// a metric without a finite number is refused with its reason, the others still read. Nil when
    /// `topic` is not a Sparkplug topic of the catalog.
    public mutating func read(topic: String, payload: [UInt8], receivedAt: Int64, catalog: Catalog) -> Message? {
        let dataTopic: String
        let isBirth: Bool
        let metrics: [String: Int]
        if let named = catalog.sparkplugByTopic[topic] {
            (dataTopic, isBirth, metrics) = (topic, false, named)
        } else if let parsed = SparkplugTopic(topic), parsed.isBirth, let named = catalog.sparkplugByTopic[parsed.dataTopic] {
            (dataTopic, isBirth, metrics) = (parsed.dataTopic, true, named)
        } else {
            return nil
        }
        var message = Message()
        guard payload.count <= maximumPayloadSize else {
            message.items = [.refused(.oversized)]
            return message
        }
        guard let decoded = try? SparkplugPayload.decode(payload) else {
            message.items = [.refused(.malformed)]
            return message
        }
        // A (re)birth replaces the aliases and data types of its data topic.
        if isBirth { births[dataTopic] = Birth() }
        for var metric in decoded.metrics {
            var index: Int?
            if let name = metric.name {
                index = metrics[name]
                if isBirth {
                    if let alias = metric.alias { births[dataTopic]?.aliases[alias] = .init(index: index, datatype: metric.datatype) }
                    if let datatype = metric.datatype { births[dataTopic]?.datatypes[name] = datatype }
                } else if metric.datatype == nil {
                    metric.datatype = births[dataTopic]?.datatypes[name]
                }
            } else if let alias = metric.alias {
                guard let announced = births[dataTopic]?.aliases[alias] else {
                    // Not announced since this agent started: refused, and the edge node is asked for a new birth.
                    message.items.append(.refused(.unknownAlias))
                    message.rebirthTopic = SparkplugTopic(dataTopic)?.nodeCommandTopic
                    continue
                }
                index = announced.index
                if metric.datatype == nil { metric.datatype = announced.datatype }
            }
            guard let index else { continue }
            guard let value = metric.number, value.isFinite else {
                message.items.append(.refused(metric.number != nil ? .nonFinite : metric.isNull ? .missingValue : .wrongType))
                continue
            }
            let stamp = metric.timestamp ?? decoded.timestamp
            let timestamp = stamp.map { Int64(clamping: $0) } ?? receivedAt
            message.items.append(.reading(index: index, Reading(sensor: catalog.sensors[index].id, timestamp: timestamp, value: value)))
        }
        return message
    }
}

extension SparkplugTopic {
    /// `spBv1.0/<group>/NCMD/<edge node>`: where the node's commands (a rebirth request) go.
    public var nodeCommandTopic: String { "spBv1.0/\(group)/NCMD/\(edgeNode)" }
}
