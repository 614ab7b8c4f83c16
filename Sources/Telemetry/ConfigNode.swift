import Foundation
import Yams

/// A read-only view of one node of a YAML document that knows where it came from,
/// so that every error names the file, the key path and the line, and says what was expected.
public struct ConfigNode: @unchecked Sendable {
    let node: Node
    /// The path of the parent and this node's key or index in it: the path is only spelled out
    /// for an error, not for each of the millions of lookups of a large catalog.
    private let parentPath: String
    private let key: String?
    private let index: Int
    /// The file (or description of the source) the document came from.
    public let file: String

    init(node: Node, path: String, file: String) {
        self.init(node: node, parentPath: path, key: nil, index: -1, file: file)
    }

    private init(node: Node, parentPath: String, key: String?, index: Int, file: String) {
        self.node = node
        self.parentPath = parentPath
        self.key = key
        self.index = index
        self.file = file
    }

    /// The dotted key path of this node, e.g. `sensors[3].limits.high`.
    public var path: String {
        if let key { return parentPath.isEmpty ? key : "\(parentPath).\(key)" }
        if index >= 0 { return "\(parentPath)[\(index)]" }
        return parentPath
    }

    fileprivate func child(_ key: String, _ value: Node, parentPath: String? = nil) -> ConfigNode {
        ConfigNode(node: value, parentPath: parentPath ?? path, key: key, index: -1, file: file)
    }

    /// Parses a YAML document. An empty document is an error.
    public static func parse(yaml: String, file: String) throws -> ConfigNode {
        let node: Node?
        do {
            // The basic resolver: every scalar is read as text by the accessors below, so Yams'
            // regular-expression tag resolution (a third of loading a 100k-sensor catalog) is not needed.
            node = try Yams.compose(yaml: yaml, .basic)
        } catch let error as YamlError {
            throw TelemetryError(.invalidConfiguration, "\(file): not valid YAML: \(error)")
        }
        guard let node else {
            throw TelemetryError(.invalidConfiguration, "\(file): the document is empty")
        }
        return ConfigNode(node: node, path: "", file: file)
    }

    /// Reads and parses a YAML file.
    public static func load(file: String) throws -> ConfigNode {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw TelemetryError(.unreadableFile, "\(file): cannot read the file (missing or not readable)")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw TelemetryError(.invalidConfiguration, "\(file): not UTF-8 text")
        }
        return try parse(yaml: text, file: file)
    }

    /// An error about this node: `file:line: at key.path: message`.
    public func error(_ message: String) -> TelemetryError {
        let line = node.mark.map { ":\($0.line)" } ?? ""
        let at = path.isEmpty ? "at the top level" : "at `\(path)`"
        return TelemetryError(.invalidConfiguration, "\(file)\(line): \(at): \(message)")
    }

    private func expected(_ what: String) -> TelemetryError {
        error("expected \(what), found \(found)")
    }

    private var found: String {
        switch node {
        case .scalar(let s): return s.string.isEmpty ? "nothing" : "`\(s.string.prefix(40))`"
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        }
    }

    // MARK: - Shape

    public var isNull: Bool {
        if case .scalar(let s) = node { return s.string.isEmpty || s.string == "~" || s.string == "null" }
        return false
    }

    /// The child under `key`, or nil when absent (or explicitly null).
    public subscript(key: String) -> ConfigNode? {
        guard case .mapping(let mapping) = node else { return nil }
        for (k, v) in mapping where k.string == key {
            let child = child(key, v)
            return child.isNull ? nil : child
        }
        return nil
    }

    /// The child under `key`; an error naming the key when it is missing.
    public func required(_ key: String) throws -> ConfigNode {
        guard case .mapping = node else { throw expected("a mapping with `\(key)`") }
        guard let value = self[key] else { throw error("missing required key `\(key)`") }
        return value
    }

    /// The keys and values of a mapping, in document order.
    public func entries() throws -> [(key: String, value: ConfigNode)] {
        guard case .mapping(let mapping) = node else { throw expected("a mapping") }
        return try mapping.map { k, v in
            guard let key = k.string else { throw expected("a mapping with string keys") }
            return (key, child(key, v))
        }
    }

    /// The items of a list.
    public func list() throws -> [ConfigNode] {
        guard case .sequence(let sequence) = node else { throw expected("a list") }
        let path = self.path
        return sequence.enumerated().map { i, v in ConfigNode(node: v, parentPath: path, key: nil, index: i, file: file) }
    }

    /// Rejects keys that are not in `allowed`, naming the closest allowed key.
    public func rejectUnknownKeys(_ allowed: Set<String>) throws {
        _ = try fields(allowed)
    }

    /// A mapping's values by key, read in one pass, after rejecting keys that are not in `allowed`
    /// (naming the closest allowed key). For mappings read key by key, as each sensor of a catalog.
    public func fields(_ allowed: Set<String>) throws -> ConfigFields {
        guard case .mapping(let mapping) = node else { throw expected("a mapping") }
        var values: [String: Node] = [:]
        values.reserveCapacity(mapping.count)
        for (k, v) in mapping {
            guard let key = k.string else { throw expected("a mapping with string keys") }
            guard allowed.contains(key) else {
                let hint = allowed.min { editDistance($0, key) < editDistance($1, key) }
                    .flatMap { editDistance($0, key) <= 3 ? " (did you mean `\($0)`?)" : nil } ?? ""
                throw child(key, v).error("unknown key `\(key)`\(hint); allowed: \(allowed.sorted().joined(separator: ", "))")
            }
            if values[key] == nil { values[key] = v }
        }
        return ConfigFields(owner: self, ownerPath: path, values: values)
    }

    // MARK: - Scalars

    public func string() throws -> String {
        guard case .scalar(let s) = node, !isNull else { throw expected("a string") }
        return s.string
    }

    public func double() throws -> Double {
        guard case .scalar(let s) = node, let value = Double(ConfigNode.trimmed(s.string)), value.isFinite
        else { throw expected("a number") }
        return value
    }

    public func int() throws -> Int {
        guard case .scalar(let s) = node, let value = Int(ConfigNode.trimmed(s.string))
        else { throw expected("a whole number") }
        return value
    }

    /// `text` without leading and trailing white space. Most scalars have none: those are returned as they are,
    /// without Foundation's trimming (a sixth of loading a 100k-sensor catalog).
    static func trimmed(_ text: String) -> String {
        let bytes = text.utf8
        guard let first = bytes.first, let last = bytes.last else { return text }
        func plain(_ b: UInt8) -> Bool { b > 0x20 && b < 0x80 }
        if plain(first), plain(last) { return text }
        return text.trimmingCharacters(in: .whitespaces)
    }

    public func bool() throws -> Bool {
        guard case .scalar(let s) = node else { throw expected("true or false") }
        switch s.string.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw expected("true or false")
        }
    }

    public func stringList() throws -> [String] {
        if case .scalar = node { return [try string()] }
        return try list().map { try $0.string() }
    }

    /// A duration: a number of seconds, or a number with a unit (`250ms`, `30s`, `5m`, `2h`, `1d`).
    public func seconds() throws -> Double {
        guard case .scalar(let s) = node else { throw expected("a duration such as `30s`, `5m` or `250ms`") }
        guard let value = ConfigNode.parseDuration(s.string) else {
            throw expected("a duration such as `30s`, `5m` or `250ms`")
        }
        return value
    }

    /// Parses `250ms`, `30s`, `5m`, `2h`, `1d` or a bare number of seconds; nil when malformed or negative.
    public static func parseDuration(_ text: String) -> Double? {
        let t = trimmed(text).lowercased()
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86_400)]
        for (suffix, scale) in units where t.hasSuffix(suffix) {
            let number = t.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)
            if let v = Double(number), v.isFinite, v >= 0 { return v * scale }
        }
        if let v = Double(t), v.isFinite, v >= 0 { return v }
        return nil
    }
}

/// The values of one mapping by key (see `ConfigNode.fields`).
public struct ConfigFields: @unchecked Sendable {
    /// The mapping itself, for errors about it.
    public let owner: ConfigNode
    /// `owner.path`, spelled once for all its children.
    fileprivate let ownerPath: String
    fileprivate let values: [String: Node]

    /// The child under `key`, or nil when absent (or explicitly null).
    public subscript(key: String) -> ConfigNode? {
        guard let value = values[key] else { return nil }
        let child = owner.child(key, value, parentPath: ownerPath)
        return child.isNull ? nil : child
    }

    /// The child under `key`; an error naming the key when it is missing.
    public func required(_ key: String) throws -> ConfigNode {
        guard let value = self[key] else { throw owner.error("missing required key `\(key)`") }
        return value
    }
}

func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous = Array(0...b.count)
    var current = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
        current[0] = i
        for j in 1...b.count {
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        swap(&previous, &current)
    }
    return previous[b.count]
}
