import Foundation
import Telemetry

/// A validator for the subset of JSON Schema (draft 2020-12) that Vigil's schemas use.
/// A schema keyword outside that subset is an error, so a schema can never pass by being misunderstood.
public struct JSONSchemaValidator {
    public struct Failure: Error, CustomStringConvertible {
        public let path: String
        public let message: String
        public var description: String { "\(path.isEmpty ? "/" : path): \(message)" }
    }

    private let directory: String
    private var documents: [String: JSONValue] = [:]
    private let root: String

    static let annotations: Set<String> = ["$schema", "$id", "$defs", "title", "description", "default", "examples"]
    static let supported: Set<String> = [
        "type", "properties", "required", "additionalProperties", "items", "enum", "const", "minimum", "maximum",
        "minLength", "maxLength", "minItems", "maxItems", "pattern", "format", "$ref", "allOf", "anyOf", "oneOf",
        "not", "propertyNames",
    ]

    /// Loads `file` from `directory`; `$ref`s to other files are resolved in the same directory.
    public init(directory: String, file: String) throws {
        self.directory = directory
        self.root = file
        documents[file] = try Self.load(directory + "/" + file)
    }

    static func load(_ path: String) throws -> JSONValue {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Failure(path: path, message: "cannot read the schema")
        }
        return try JSONValue.parse([UInt8](data))
    }

    /// Validates one JSON document; returns every failure found (empty when valid).
    public mutating func validate(_ instance: JSONValue) throws -> [Failure] {
        var failures: [Failure] = []
        guard let schema = documents[root] else { return [] }
        try check(instance, against: schema, document: root, path: "", failures: &failures)
        return failures
    }

    public mutating func validate(json text: String) throws -> [Failure] {
        try validate(JSONValue.parse(text))
    }

    private mutating func resolve(_ ref: String, from document: String) throws -> (JSONValue, String) {
        let parts = ref.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false)
        var doc = document
        if let file = parts.first, !file.isEmpty {
            doc = String(file)
            if documents[doc] == nil { documents[doc] = try Self.load(directory + "/" + doc) }
        }
        guard var node = documents[doc] else { throw Failure(path: ref, message: "unresolvable $ref") }
        if parts.count == 2 {
            for token in parts[1].split(separator: "/") {
                guard let next = node[String(token)] else { throw Failure(path: ref, message: "unresolvable $ref") }
                node = next
            }
        }
        return (node, doc)
    }

    private mutating func check(_ value: JSONValue, against schema: JSONValue, document: String, path: String,
                                failures: inout [Failure]) throws {
        if case .bool(let allowed) = schema {
            if !allowed { failures.append(Failure(path: path, message: "no value is allowed here")) }
            return
        }
        guard case .object(let keywords) = schema else { throw Failure(path: path, message: "schema is not an object") }
        func fail(_ message: String) { failures.append(Failure(path: path, message: message)) }

        for (key, rule) in keywords {
            if Self.annotations.contains(key) { continue }
            guard Self.supported.contains(key) else {
                throw Failure(path: path, message: "schema keyword `\(key)` is not supported by this validator")
            }
            switch key {
            case "type":
                let types: [String]
                switch rule {
                case .string(let t): types = [t]
                case .array(let list): types = list.compactMap { if case .string(let s) = $0 { s } else { nil } }
                default: throw Failure(path: path, message: "bad `type`")
                }
                if !types.contains(where: { Self.matches(value, type: $0) }) {
                    fail("expected \(types.joined(separator: " or ")), found \(Self.typeName(value))")
                }
            case "properties":
                guard case .object(let members) = value, case .object(let props) = rule else { continue }
                for (name, sub) in props {
                    if let v = members.first(where: { $0.0 == name })?.1 {
                        try check(v, against: sub, document: document, path: "\(path)/\(name)", failures: &failures)
                    }
                }
            case "required":
                guard case .object(let members) = value, case .array(let names) = rule else { continue }
                for case .string(let name) in names where !members.contains(where: { $0.0 == name }) {
                    fail("missing required property `\(name)`")
                }
            case "additionalProperties":
                guard case .object(let members) = value else { continue }
                var known: Set<String> = []
                if case .object(let props)? = schema["properties"] { known = Set(props.map(\.0)) }
                for (name, v) in members where !known.contains(name) {
                    if case .bool(false) = rule {
                        fail("unexpected property `\(name)`")
                    } else {
                        try check(v, against: rule, document: document, path: "\(path)/\(name)", failures: &failures)
                    }
                }
            case "propertyNames":
                guard case .object(let members) = value else { continue }
                for (name, _) in members {
                    try check(.string(name), against: rule, document: document, path: "\(path)/\(name)", failures: &failures)
                }
            case "items":
                guard case .array(let items) = value else { continue }
                for (i, item) in items.enumerated() {
                    try check(item, against: rule, document: document, path: "\(path)/\(i)", failures: &failures)
                }
            case "enum":
                guard case .array(let options) = rule else { continue }
                if !options.contains(value) { fail("value is not one of the allowed values") }
            case "const":
                if value != rule { fail("value must be \(rule)") }
            case "minimum":
                if case .number(let x) = value, case .number(let m) = rule, x < m { fail("\(x) is below the minimum \(m)") }
            case "maximum":
                if case .number(let x) = value, case .number(let m) = rule, x > m { fail("\(x) is above the maximum \(m)") }
            case "minLength":
                if case .string(let s) = value, case .number(let m) = rule, Double(s.count) < m { fail("string shorter than \(Int(m))") }
            case "maxLength":
                if case .string(let s) = value, case .number(let m) = rule, Double(s.count) > m { fail("string longer than \(Int(m))") }
            case "minItems":
                if case .array(let a) = value, case .number(let m) = rule, Double(a.count) < m { fail("fewer than \(Int(m)) items") }
            case "maxItems":
                if case .array(let a) = value, case .number(let m) = rule, Double(a.count) > m { fail("more than \(Int(m)) items") }
            case "pattern":
                guard case .string(let s) = value, case .string(let pattern) = rule else { continue }
                let regex = try NSRegularExpression(pattern: pattern)
                if regex.firstMatch(in: s, range: NSRange(s.startIndex..., in: s)) == nil { fail("`\(s)` does not match \(pattern)") }
            case "format":
                if case .string(let s) = value, case .string("date-time") = rule,
                   !(s.contains("T") && Timestamp.parse(s) != nil) {
                    fail("`\(s)` is not an RFC 3339 date-time")
                }
            case "$ref":
                guard case .string(let ref) = rule else { continue }
                let (target, doc) = try resolve(ref, from: document)
                try check(value, against: target, document: doc, path: path, failures: &failures)
            case "allOf", "anyOf", "oneOf":
                guard case .array(let subs) = rule else { continue }
                var passing = 0
                var collected: [Failure] = []
                for sub in subs {
                    var local: [Failure] = []
                    try check(value, against: sub, document: document, path: path, failures: &local)
                    if local.isEmpty { passing += 1 } else { collected += local }
                }
                if key == "allOf" { failures += collected }
                if key == "anyOf", passing == 0 { fail("matches none of anyOf: \(collected.first?.description ?? "")") }
                if key == "oneOf", passing != 1 { fail("matches \(passing) of oneOf, expected exactly 1") }
            case "not":
                var local: [Failure] = []
                try check(value, against: rule, document: document, path: path, failures: &local)
                if local.isEmpty { fail("value must not match the `not` schema") }
            default:
                break
            }
        }
    }

    static func matches(_ value: JSONValue, type: String) -> Bool {
        switch (type, value) {
        case ("object", .object), ("array", .array), ("string", .string), ("boolean", .bool), ("null", .null),
             ("number", .number): return true
        case ("integer", .number(let x)): return x.rounded() == x
        default: return false
        }
    }

    static func typeName(_ value: JSONValue) -> String {
        switch value {
        case .object: "object"
        case .array: "array"
        case .string: "string"
        case .bool: "boolean"
        case .null: "null"
        case .number: "number"
        }
    }
}
