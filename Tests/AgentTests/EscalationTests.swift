import Agent
import Detection
import Foundation
import Logging
import Metrics
import MicroLM
import Narration
import Prometheus
import Telemetry
import Testing
import VigilTestSupport

/// Escalation to an OpenAI-compatible chat endpoint on loopback: a real HTTP server whose replies
/// come from the real model (Tests/AgentTests/Support/chat_server.py runs `vigil generate`), and,
/// when it is installed, llama-cpp-python's own server on the same model.
enum ChatServerFixture {
    static let modelFile = RepositoryPaths.file("models/" + ModelLocator.defaultFileName)
    static let ready = DeployRestartTests.vigilBinary != nil && FileManager.default.fileExists(atPath: modelFile)
        && FileManager.default.isExecutableFile(atPath: "/usr/bin/python3")

    struct NotStarted: Error {}

    /// llama.cpp's own OpenAI-compatible server (llama-cpp-python), when installed here
    /// (`$VIGIL_LLAMA_PYTHON`, or the environment of ../shared/tools/llama-reference-bench).
    static let llamaPython: String? = {
        let candidates = [ProcessInfo.processInfo.environment["VIGIL_LLAMA_PYTHON"],
                          NSHomeDirectory() + "/.cache/vigil-llama-ref/bin/python"]
        return candidates.compactMap { $0 }.first { path in
            guard FileManager.default.isExecutableFile(atPath: path) else { return false }
            let p = Process()
            p.executableURL = URL(fileURLWithPath: path)
            p.arguments = ["-c", "import llama_cpp.server"]
            p.standardError = FileHandle.nullDevice
            guard (try? p.run()) != nil else { return false }
            p.waitUntilExit()
            return p.terminationStatus == 0
        }
    }()
}

@Suite(.serialized, .enabled(if: ChatServerFixture.ready, "needs the vigil binary, python3 and the model"))
struct EscalationTests {
    static let modelFile = ChatServerFixture.modelFile

    let catalog: Catalog
    let events: [AnomalyEvent]
    let logger = Logger(label: "test.escalation")

    init() throws {
        let bundle = RepositoryPaths.file("deploy/bundles/smollm2-narration")
        catalog = try Catalog.load(file: bundle + "/self-test-catalog.yaml")
        // Critical, so that the policy sends them whatever the local text.
        events = try EventFile.read(file: bundle + "/self-test-events.jsonl").map { var e = $0; e.severity = .critical; return e }
    }

    /// A running chat server; stopped when released.
    final class Server {
        let process = Process()
        let port: Int
        let log: String
        let directory: TemporaryDirectory

        init(_ flags: [String] = [], python: String = "/usr/bin/python3", port fixed: Int? = nil, script: [String]? = nil) throws {
            directory = try TemporaryDirectory(prefix: "vigil-chat")
            port = try fixed ?? MosquittoBroker.freePort()
            log = directory.path + "/requests.jsonl"
            process.executableURL = URL(fileURLWithPath: python)
            process.arguments = script ?? ([RepositoryPaths.file("Tests/AgentTests/Support/chat_server.py"), "--port", "\(port)",
                                            "--vigil", DeployRestartTests.vigilBinary!, "--model-file", EscalationTests.modelFile,
                                            "--log", log] + flags)
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
        }

        /// Waits (without holding a thread of the shared pool) until the server accepts connections.
        func ready() async throws -> Server {
            let until = ContinuousClock.now + .seconds(120)
            while !MosquittoBroker.accepts(port: port) {
                guard ContinuousClock.now < until, process.isRunning else { throw ChatServerFixture.NotStarted() }
                try await Task.sleep(for: .milliseconds(50))
            }
            return self
        }

        var url: String { "http://127.0.0.1:\(port)/v1" }

        deinit {
            // SIGKILL: a child of Foundation's Process starts with SIGTERM blocked.
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    func escalator(_ yaml: String, registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) throws -> OpenAIChatEscalator {
        let config = try AgentConfiguration.parse(yaml: """
            agent: {name: gw1, catalog: plant.yaml}
            local: {url: "mqtt://127.0.0.1:1883"}
            narration: {escalate: \(yaml)}
            """)
        return OpenAIChatEscalator(settings: try #require(config.narrationEscalation), factory: PrometheusMetricsFactory(registry: registry))
    }

    /// Narrates with no local model (the template), so that every critical event goes to the endpoint.
    func narrate(_ event: AnomalyEvent, _ escalator: OpenAIChatEscalator) async -> Narrative {
        await Narrator(catalog: catalog, model: nil, logger: logger, escalator: escalator).narrate(event, deadline: nil)
    }

    /// Each of `count` events through `escalator`: a delivered reply passes the same verifier as
    /// local text; a reply that does not leaves the template, saying so. Returns how many were escalated.
    func escalateEvents(_ count: Int, _ escalator: OpenAIChatEscalator, model: String) async -> Int {
        var escalated = 0
        for event in events.prefix(count) {
            let n = await narrate(event, escalator)
            if n.source == .escalated {
                escalated += 1
                #expect(n.model == model)
                #expect(Verifier(facts: Facts(event: event, catalog: catalog), catalog: catalog).verify(n.text).accepted, "\(n.text)")
            } else {
                #expect(n.source == .template)
                #expect(n.reason?.contains("escalation: reply rejected by the verifier") == true, "\(n.reason ?? "")")
            }
        }
        return escalated
    }

    @Test func verifiedRepliesBecomeTheAlertTextAndOnlyTheFactsTravel() async throws {
        // The small model answers in the form the verifier wants only from worked examples, as a base
        // model continues them; a plant's larger chat model needs no such help.
        let server = try await Server(["--few-shot"]).ready()
        let registry = PrometheusCollectorRegistry()
        let escalator = try escalator("{url: \"\(server.url)\", model: smollm2-135m-private, deadline: 30s}", registry: registry)
        let escalated = await escalateEvents(6, escalator, model: "smollm2-135m-private")
        #expect(escalated >= 1, "no reply of the six passed the verifier")
        // What left: the model name, the two messages (the instructions and the formatted facts), the
        // sampling settings; no reading, window or event record.
        let lines = try String(contentsOfFile: server.log, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 6)
        for (line, event) in zip(lines, events) {
            let body = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            #expect(Set(body.keys) == ["model", "messages", "temperature", "max_tokens", "stream"])
            let messages = try #require(body["messages"] as? [[String: String]])
            #expect(messages.map { $0["role"] } == ["system", "user"])
            #expect(messages[1]["content"] == "Facts: " + PromptBuilder.factLine(Facts(event: event, catalog: catalog)))
            #expect(!line.contains(event.id))
        }
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        let exposition = String(decoding: buffer, as: UTF8.self)
        #expect(exposition.contains("vigil_narration_escalations_total{outcome=\"accepted\"} \(escalated)"), "\(exposition)")
    }

    @Test func aReplyThatFailsTheVerifierIsNotDelivered() async throws {
        let server = try await Server(["--append", " Pressure reached 999 bar at 03:00."]).ready()
        let escalator = try escalator("{url: \"\(server.url)\", model: m, deadline: 30s}")
        let n = await narrate(events[1], escalator)
        #expect(n.source == .template)
        #expect(n.reason?.contains("escalation: reply rejected by the verifier") == true, "\(n.reason ?? "")")
        #expect(!n.text.contains("999"))
    }

    @Test func timeoutRefusalAMissingTokenAndADownEndpointLeaveTheTemplate() async throws {
        let event = events[0]
        let slow = try await Server(["--delay", "5"]).ready()
        var started = ContinuousClock.now
        var n = await narrate(event, try escalator("{url: \"\(slow.url)\", model: m, deadline: 300ms}"))
        #expect(n.source == .template)
        #expect(n.reason?.contains("escalation: timeout") == true, "\(n.reason ?? "")")
        #expect(ContinuousClock.now - started < .seconds(3))

        let refusing = try await Server(["--refuse"]).ready()
        n = await narrate(event, try escalator("{url: \"\(refusing.url)\", model: m}"))
        #expect(n.reason?.contains("escalation: refused") == true, "\(n.reason ?? "")")

        let guarded = try await Server(["--token", "s3cret"]).ready()
        n = await narrate(event, try escalator("{url: \"\(guarded.url)\", model: m}"))
        #expect(n.reason?.contains("escalation: refused") == true, "\(n.reason ?? "")")
        let tokenFile = guarded.directory.path + "/token"
        try "s3cret\n".write(toFile: tokenFile, atomically: true, encoding: .utf8)
        n = await narrate(events[1], try escalator("{url: \"\(guarded.url)\", model: m, token_file: \(tokenFile), deadline: 30s}"))
        #expect(n.reason?.contains("refused") != true, "\(n.reason ?? "")")

        // Nothing listens on this port.
        let port = try MosquittoBroker.freePort()
        started = ContinuousClock.now
        n = await narrate(event, try escalator("{url: \"http://127.0.0.1:\(port)/v1\", model: m}"))
        #expect(n.source == .template)
        #expect(n.reason?.contains("escalation: unreachable") == true, "\(n.reason ?? "")")
        #expect(!n.text.isEmpty)
        #expect(ContinuousClock.now - started < .seconds(3))
    }

    @Test func onlyQualifyingAlertsGo() async throws {
        let server = try await Server().ready()
        let escalator = try escalator("{url: \"\(server.url)\", model: m, when: [rejected], deadline: 30s}")
        // Critical, but the policy only takes rejected local text; the template is not a rejection.
        _ = await narrate(events[0], escalator)
        #expect(!FileManager.default.fileExists(atPath: server.log))
    }

    /// llama.cpp's own OpenAI-compatible server on the same model.
    @Test(.enabled(if: ChatServerFixture.llamaPython != nil, "llama-cpp-python's server is not installed"))
    func llamaCppServerRepliesPassTheSameVerifier() async throws {
        let port = try MosquittoBroker.freePort()
        let server = try await Server(python: ChatServerFixture.llamaPython!, port: port,
                                script: ["-m", "llama_cpp.server", "--model", EscalationTests.modelFile, "--host", "127.0.0.1",
                                         "--port", "\(port)", "--n_ctx", "2048", "--model_alias", "smollm2-llama-cpp"]).ready()
        let escalator = try escalator("{url: \"\(server.url)\", model: smollm2-llama-cpp, deadline: 60s}")
        let escalated = await escalateEvents(6, escalator, model: "smollm2-llama-cpp")
        print("llama.cpp server: \(escalated) of 6 replies verified")
    }
}

@Suite struct EscalationConfigurationTests {
    static let base = "agent: {name: gw1, catalog: plant.yaml}\nlocal: {url: \"mqtt://127.0.0.1:1883\"}\n"

    @Test(arguments: [
        ("{url: \"http://llm.plant.local/v1\", model: m}", "use https://"),
        ("{url: \"ftp://x/v1\", model: m}", "expected an https:// address"),
        ("{url: \"https://llm.plant.local/v1\"}", "missing required key `model`"),
        ("{url: \"https://llm.plant.local/v1\", model: m, token_file: /nonexistent}", "cannot read a token"),
        ("{url: \"https://llm.plant.local/v1\", model: m, when: [always]}", "`always` is not a case"),
        ("{url: \"https://llm.plant.local/v1\", model: m, deadline: 0s}", "expected"),
        ("{url: \"https://llm.plant.local/v1\", model: m, temperature: 1}", "temperature"),
    ])
    func badEscalationSettingsAreRefused(_ escalate: String, _ message: String) {
        do {
            _ = try AgentConfiguration.parse(yaml: Self.base + "narration: {escalate: \(escalate)}")
            Issue.record("accepted: \(escalate)")
        } catch {
            #expect("\(error)".contains(message), "\(error)")
        }
    }

    @Test func theEndpointPathIsCompletedAndOffIsTheDefault() throws {
        #expect(try AgentConfiguration.parse(yaml: Self.base).narrationEscalation == nil)
        let c = try AgentConfiguration.parse(yaml: Self.base + "narration: {escalate: {url: \"https://llm.plant.local:8443/v1\", model: big, when: [critical]}}")
        let e = try #require(c.narrationEscalation)
        #expect(e.url.absoluteString == "https://llm.plant.local:8443/v1/chat/completions")
        #expect(e.policy == EscalationPolicy(critical: true, rejected: false))
        #expect(e.deadline == 5)
    }
}
