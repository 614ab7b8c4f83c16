import Foundation
import Telemetry
import Testing
import VigilTestSupport

/// deploy/dashboards/node-red-flow.json against the node schema of @flowfuse/node-red-dashboard 2
/// (Dashboard 2): each node type the flow uses, its required keys, their types and allowed values.
/// A ui-table without `action: replace` appends every message's rows (33 rows for 3 alarms).
@Suite struct DeployDashboardTests {
    enum Kind { case string, number, bool, array, object, numberOrString }
    struct Key {
        var name: String
        var kind: Kind
        var allowed: [String]? = nil
        /// The node type this key must reference by id.
        var references: String? = nil
    }

    /// The keys each Dashboard 2 (and core) node type must carry, as its editor writes them.
    static let schema: [String: [Key]] = [
        "ui-base": [Key(name: "name", kind: .string), Key(name: "path", kind: .string)],
        "ui-theme": [Key(name: "name", kind: .string), Key(name: "colors", kind: .object), Key(name: "sizes", kind: .object)],
        "ui-page": [Key(name: "name", kind: .string), Key(name: "ui", kind: .string, references: "ui-base"),
                    Key(name: "path", kind: .string), Key(name: "layout", kind: .string, allowed: ["grid", "flex", "tabs", "notebook"]),
                    Key(name: "theme", kind: .string, references: "ui-theme"), Key(name: "order", kind: .number)],
        "ui-group": [Key(name: "name", kind: .string), Key(name: "page", kind: .string, references: "ui-page"),
                     Key(name: "width", kind: .numberOrString), Key(name: "order", kind: .number)],
        "ui-table": [Key(name: "group", kind: .string, references: "ui-group"), Key(name: "order", kind: .number),
                     Key(name: "maxrows", kind: .number), Key(name: "passthru", kind: .bool),
                     Key(name: "autocols", kind: .bool), Key(name: "columns", kind: .array),
                     Key(name: "selectionType", kind: .string, allowed: ["none", "click", "checkbox", "radio"]),
                     Key(name: "action", kind: .string, allowed: ["append", "replace"])],
        "ui-text": [Key(name: "group", kind: .string, references: "ui-group"), Key(name: "order", kind: .number),
                    Key(name: "format", kind: .string),
                    Key(name: "layout", kind: .string, allowed: ["row-left", "row-center", "row-right", "row-spread", "col-center"])],
        "ui-notification": [Key(name: "ui", kind: .string, references: "ui-base"),
                            Key(name: "position", kind: .string,
                                allowed: ["top right", "top center", "top left", "bottom right", "bottom center", "bottom left", "center center"]),
                            Key(name: "displayTime", kind: .numberOrString), Key(name: "raw", kind: .bool),
                            Key(name: "allowDismiss", kind: .bool), Key(name: "allowConfirm", kind: .bool)],
        "mqtt-broker": [Key(name: "broker", kind: .string), Key(name: "port", kind: .numberOrString)],
        "mqtt in": [Key(name: "topic", kind: .string), Key(name: "qos", kind: .string, allowed: ["0", "1", "2"]),
                    Key(name: "broker", kind: .string, references: "mqtt-broker"), Key(name: "wires", kind: .array)],
        "function": [Key(name: "func", kind: .string), Key(name: "outputs", kind: .number), Key(name: "wires", kind: .array)],
        "debug": [Key(name: "active", kind: .bool), Key(name: "wires", kind: .array)],
        "tab": [Key(name: "label", kind: .string)],
    ]

    func nodes() throws -> [JSONValue] {
        let text = try String(contentsOfFile: RepositoryPaths.file("deploy/dashboards/node-red-flow.json"), encoding: .utf8)
        guard case .array(let nodes) = try JSONValue.parse(text) else { throw AgentTestError("the flow is not a JSON array") }
        return nodes
    }

    struct AgentTestError: Error { let message: String; init(_ m: String) { message = m } }

    static func isKind(_ value: JSONValue, _ kind: Kind) -> Bool {
        switch (kind, value) {
        case (.string, .string), (.bool, .bool), (.number, .number), (.numberOrString, .number),
             (.numberOrString, .string), (.array, .array), (.object, .object): return true
        default: return false
        }
    }

    static func text(_ value: JSONValue?) -> String? {
        switch value {
        case .string(let s)?: return s
        case .number(let n)?: return n == n.rounded() ? String(Int(n)) : String(n)
        case .bool(let b)?: return String(b)
        default: return nil
        }
    }

    @Test func everyNodeHasTheKeysOfItsType() throws {
        let nodes = try nodes()
        let typeByID = Dictionary(uniqueKeysWithValues: nodes.compactMap { n in Self.text(n["id"]).map { ($0, Self.text(n["type"]) ?? "") } })
        for node in nodes {
            let id = Self.text(node["id"]) ?? "?"
            let type = try #require(Self.text(node["type"]))
            let keys = try #require(Self.schema[type], "\(id): node type `\(type)` is not in the test's schema; add it")
            for key in keys {
                guard let value = node[key.name] else {
                    Issue.record("\(id) (\(type)): missing `\(key.name)`")
                    continue
                }
                #expect(Self.isKind(value, key.kind), "\(id) (\(type)): `\(key.name)` has the wrong type: \(value)")
                if let allowed = key.allowed {
                    #expect(allowed.contains(Self.text(value) ?? ""), "\(id) (\(type)): `\(key.name)` is `\(value)`, expected one of \(allowed)")
                }
                if let target = key.references {
                    #expect(typeByID[Self.text(value) ?? ""] == target, "\(id) (\(type)): `\(key.name)` names no \(target) node")
                }
            }
        }
    }

    /// Both tables are sent their whole content on every message, so they must replace, not append.
    @Test func bothTablesReplaceTheirRows() throws {
        let tables = try nodes().filter { Self.text($0["type"]) == "ui-table" }
        #expect(tables.count == 2)
        for table in tables {
            let id = Self.text(table["id"]) ?? "?"
            #expect(Self.text(table["action"]) == "replace", "\(id) appends: the table grows with every message")
            guard case .array(let columns)? = table["columns"] else { continue }
            for column in columns {
                guard case .string? = column["key"], case .string? = column["title"] else {
                    Issue.record("\(id): a column without key or title"); continue
                }
            }
        }
    }
}
