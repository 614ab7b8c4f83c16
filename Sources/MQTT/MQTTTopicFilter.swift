/// A validated MQTT topic filter, possibly with `+` (one level) and `#` (all remaining levels).
///
/// ```swift
/// let filter = try MQTTTopicFilter("plant/+/temperature")
/// filter.matches("plant/press-1/temperature")   // true
/// filter.matches("plant/press-1/oil/temperature") // false
/// ```
/// Topics starting with `$` (e.g. `$SYS/...`) match only filters that start with the same
/// literal level, as the MQTT specification requires (4.7.2).
public struct MQTTTopicFilter: Sendable, Hashable, CustomStringConvertible {
    public let filter: String
    /// The levels of a filter with wildcards, as UTF-8 bytes (split once, so matching allocates
    /// nothing); empty for a concrete filter, which matches by equality (a catalog of 100k topics
    /// keeps no split copy of each).
    private let levels: [Level]

    private enum Level: Sendable, Hashable {
        case literal([UInt8])
        case single
        case multi
    }

    public init(_ filter: String) throws(MQTTError) {
        let bytes = Array(filter.utf8)
        if bytes.isEmpty { throw .invalidTopic(filter, reason: "a topic filter cannot be empty") }
        if bytes.count > 65535 { throw .invalidTopic(filter, reason: "longer than 65535 bytes") }
        if bytes.contains(0) { throw .invalidTopic(filter, reason: "contains a NUL character") }
        let parts = bytes.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false)
        var levels: [Level] = []
        levels.reserveCapacity(parts.count)
        for (index, part) in parts.enumerated() {
            if part.elementsEqual([UInt8(ascii: "#")]) {
                guard index == parts.count - 1 else {
                    throw .invalidTopic(filter, reason: "'#' must be the last level")
                }
                levels.append(.multi)
            } else if part.elementsEqual([UInt8(ascii: "+")]) {
                levels.append(.single)
            } else if part.contains(UInt8(ascii: "#")) || part.contains(UInt8(ascii: "+")) {
                throw .invalidTopic(filter, reason: "'+' and '#' must fill a whole level")
            } else {
                levels.append(.literal(Array(part)))
            }
        }
        self.filter = filter
        let concrete = levels.allSatisfy { if case .literal = $0 { true } else { false } }
        self.levels = concrete ? [] : levels
    }

    public var description: String { filter }

    /// Whether the filter has `+` or `#`.
    public var hasWildcards: Bool { !levels.isEmpty }

    /// Whether a message published on `topic` is delivered to a subscription with this filter.
    public func matches(_ topic: String) -> Bool {
        var topic = topic
        return topic.withUTF8 { matches(utf8: $0) }
    }

    /// `matches` over the topic's UTF-8 bytes.
    func matches(utf8 topic: UnsafeBufferPointer<UInt8>) -> Bool {
        if topic.isEmpty { return false }
        if levels.isEmpty { return filter.utf8.elementsEqual(topic) }
        if topic[0] == UInt8(ascii: "$") {
            guard case .literal = levels[0] else { return false }
        }
        let slash = UInt8(ascii: "/")
        var position = 0          // start of the current topic level
        var levelIndex = 0
        while true {
            // End of the current topic level.
            var end = position
            while end < topic.count && topic[end] != slash { end += 1 }
            guard levelIndex < levels.count else { return false }
            switch levels[levelIndex] {
            case .multi:
                return true
            case .single:
                break
            case .literal(let literal):
                if literal.count != end - position { return false }
                var i = 0
                while i < literal.count {
                    if literal[i] != topic[position + i] { return false }
                    i += 1
                }
            }
            levelIndex += 1
            if end == topic.count {
                // Topic exhausted: match if the filter is too, or only "/#" remains
                // ("a/#" matches "a").
                if levelIndex == levels.count { return true }
                if levelIndex == levels.count - 1, case .multi = levels[levelIndex] { return true }
                return false
            }
            position = end + 1
        }
    }
}

/// Rules for topic names (what a message is published on).
public enum MQTTTopicName {
    /// Throws `MQTTError.invalidTopic` unless `topic` can be published on.
    public static func validate(_ topic: String) throws(MQTTError) {
        let bytes = topic.utf8
        if bytes.isEmpty { throw .invalidTopic(topic, reason: "a topic name cannot be empty") }
        if bytes.count > 65535 { throw .invalidTopic(topic, reason: "longer than 65535 bytes") }
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "+"), UInt8(ascii: "#"):
                throw .invalidTopic(topic, reason: "wildcards are not allowed in a topic name")
            case 0:
                throw .invalidTopic(topic, reason: "contains a NUL character")
            default:
                continue
            }
        }
    }
}
