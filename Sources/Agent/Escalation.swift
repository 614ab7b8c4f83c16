import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Metrics
import Narration
import Telemetry

/// `narration.escalate`: an OpenAI-compatible chat endpoint the plant runs privately, for the alerts
/// the policy names. Off unless configured. Only the fact line Vigil formats for the alert travels.
public struct EscalationSettings: Sendable, Equatable {
    /// The chat completions address (`…/v1/chat/completions`; a base ending in `/v1` gets it added).
    public var url: URL
    public var model: String
    /// The bearer token, read from `token_file` when the configuration loads; nil: none sent.
    public var token: String?
    public var deadline: Double = 5
    public var policy = EscalationPolicy()

    static let keys: Set<String> = ["url", "model", "token_file", "deadline", "when"]

    static func decode(_ node: ConfigNode, resolve: (String) -> String) throws -> EscalationSettings {
        let f = try node.fields(keys)
        let urlNode = try node.required("url")
        let text = try urlNode.string()
        guard var url = URL(string: text), let scheme = url.scheme?.lowercased(), let host = url.host, !host.isEmpty,
              scheme == "https" || scheme == "http" else {
            throw urlNode.error("expected an https:// address of an OpenAI-compatible chat endpoint")
        }
        let loopback = ["127.0.0.1", "localhost", "::1", "[::1]"].contains(host.lowercased())
        guard scheme == "https" || loopback else {
            throw urlNode.error("escalation sends plant facts off the gateway: use https:// (http:// only to a loopback address)")
        }
        if !url.path.hasSuffix("/chat/completions") {
            url = url.appendingPathComponent(url.path.hasSuffix("/v1") || url.path.hasSuffix("/v1/") ? "chat/completions" : "v1/chat/completions")
        }
        let model = try node.required("model").string()
        guard !model.isEmpty, model.utf8.count <= 200 else { throw try node.required("model").error("expected the endpoint's model name") }
        var settings = EscalationSettings(url: url, model: model)
        if let v = f["token_file"] {
            let path = resolve(try v.string())
            guard let data = FileManager.default.contents(atPath: path), data.count <= 16_384,
                  let token = String(data: data, encoding: .utf8)?.trimmingCharacters(in: .whitespacesAndNewlines), !token.isEmpty else {
                throw v.error("cannot read a token from `\(path)` (one line, the endpoint's API key)")
            }
            settings.token = token
        }
        if let v = f["deadline"] { settings.deadline = try v.seconds(within: 0.05...120) }
        if let v = f["when"] {
            let names = try v.stringList()
            let known: Set<String> = ["critical", "rejected"]
            if let bad = names.first(where: { !known.contains($0) }) {
                throw v.error("`\(bad)` is not a case: expected critical (critical events) and/or rejected (local text that failed the verifier)")
            }
            guard !names.isEmpty else { throw v.error("expected critical and/or rejected (remove `escalate` to turn escalation off)") }
            settings.policy = EscalationPolicy(critical: names.contains("critical"), rejected: names.contains("rejected"))
        }
        return settings
    }
}

/// The chat completions client (URLSession: TLS with the system's CA store, no dependency beyond Foundation).
public final class OpenAIChatEscalator: NarrationEscalating {
    public let settings: EscalationSettings
    private let outcomes: [EscalationOutcome: Counter]
    private let session: URLSession

    public var name: String { settings.model }
    public var policy: EscalationPolicy { settings.policy }

    public init(settings: EscalationSettings, factory: any MetricsFactory) {
        self.settings = settings
        outcomes = Dictionary(uniqueKeysWithValues: EscalationOutcome.allCases.map {
            ($0, Counter(label: "vigil_narration_escalations_total", dimensions: [("outcome", $0.rawValue)], factory: factory))
        })
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = settings.deadline
        configuration.timeoutIntervalForResource = settings.deadline
        configuration.httpMaximumConnectionsPerHost = 2
        session = URLSession(configuration: configuration)
    }

    public func record(_ outcome: EscalationOutcome) { outcomes[outcome]?.increment() }

    public func complete(system: String, user: String) async throws -> String {
        var request = URLRequest(url: settings.url, timeoutInterval: settings.deadline)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        if let token = settings.token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
        let body: [String: Any] = [
            "model": settings.model, "temperature": 0, "max_tokens": 120, "stream": false,
            "messages": [["role": "system", "content": system], ["role": "user", "content": user]],
        ]
        request.httpBody = try JSONSerialization.data(withJSONObject: body)
        let deadline = settings.deadline
        let session = self.session
        let host = settings.url.host ?? "the endpoint"
        let prepared = request
        // The hard deadline: whichever ends first, the request or the clock.
        let (data, response) = try await withThrowingTaskGroup(of: (Data, URLResponse)?.self) { group in
            group.addTask {
                do { return try await session.data(for: prepared) } catch let error as URLError {
                    switch error.code {
                    case .timedOut: throw EscalationError(.timeout, "no reply within \(deadline) s")
                    case .cannotConnectToHost, .cannotFindHost, .networkConnectionLost, .notConnectedToInternet, .dnsLookupFailed:
                        throw EscalationError(.unreachable, "\(host): \(error.localizedDescription)")
                    case .cancelled: return nil
                    default: throw EscalationError(.error, error.localizedDescription)
                    }
                }
            }
            group.addTask {
                try await Task.sleep(for: .milliseconds(Int64(deadline * 1000)))
                throw EscalationError(.timeout, "no reply within \(deadline) s")
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let result = first else {
                throw EscalationError(.timeout, "no reply within \(deadline) s")
            }
            return result
        }
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        switch status {
        case 200..<300: break
        case 400..<500: throw EscalationError(.refused, "HTTP \(status)")
        default: throw EscalationError(.error, "HTTP \(status)")
        }
        guard data.count <= 1 << 20,
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let choice = (object["choices"] as? [[String: Any]])?.first,
              let message = choice["message"] as? [String: Any] else {
            throw EscalationError(.error, "the reply is not a chat completion")
        }
        if let refusal = message["refusal"] as? String, !refusal.isEmpty {
            throw EscalationError(.refused, "the model refused: \(refusal.prefix(120))")
        }
        if choice["finish_reason"] as? String == "content_filter" { throw EscalationError(.refused, "content filter") }
        guard let content = message["content"] as? String,
              !content.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw EscalationError(.refused, "an empty reply")
        }
        return String(content.prefix(2000))
    }
}
