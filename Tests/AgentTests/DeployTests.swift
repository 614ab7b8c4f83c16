import Agent
import Foundation
#if canImport(Glibc)
import Glibc
#endif
import Logging
import MicroLM
import ServiceLifecycle
import Telemetry
import Testing
import VigilTestSupport

/// deploy/: the install and uninstall scripts into a fresh directory tree, the systemd unit, the
/// broker's configuration and ACL on a real mosquitto, the dashboards against the agent's real
/// metric names and topics, and the systemd notification protocol over a real datagram socket.
@Suite(.serialized) struct DeployTests {
    let root = RepositoryPaths.root()

    // MARK: - install.sh / uninstall.sh

    /// A vigil executable built in this checkout (`swift build -c release` makes .build/release/vigil);
    /// `$VIGIL_BINARY` overrides. Nil when none was built.
    var builtBinary: String? {
        let candidates = [ProcessInfo.processInfo.environment["VIGIL_BINARY"], root + "/.build/release/vigil",
                          root + "/.build/debug/vigil"]
        return candidates.compactMap { $0 }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// With the model, install.sh installs it as the signed default bundle: verified against the
    /// committed key, self-tested, current; a second run leaves it as it is.
    @Test(.enabled(if: FileManager.default.fileExists(atPath: RepositoryPaths.file("models/" + ModelLocator.defaultFileName)),
                   "no model file in models/"))
    func installProvisionsTheModelAsTheSignedDefaultBundle() async throws {
        guard let binary = builtBinary else { return }
        let tree = try TemporaryDirectory(prefix: "vigil-root-model")
        defer { tree.remove() }
        let t = tree.path
        let install = ["deploy/install.sh", "--root", t, "--binary", binary, "--no-start",
                       "--model-file", RepositoryPaths.file("models/" + ModelLocator.defaultFileName)]
        let first = try await runWithoutBlocking(install)
        #expect(first.contains("installed the signed model bundle smollm2-narration-1.0.0"), "\(first)")
        #expect(first.contains("self-test smollm2-narration-1.0.0"), "\(first)")
        let store = "\(t)/var/lib/vigil/models/bundles"
        #expect(try String(contentsOfFile: store + "/current", encoding: .utf8) == "smollm2-narration-1.0.0\n")
        let list = try await runWithoutBlocking([binary, "model", "list", "--store", store, "--trusted-key", "deploy/keys/vigil-default.pub"])
        #expect(list.contains("current   smollm2-narration-1.0.0  ok (key "), "\(list)")
        let second = try await runWithoutBlocking(install)
        #expect(!second.contains("self-test"), "a second run installed the bundle again:\n\(second)")
    }

    /// `run`, waiting with sleeps rather than holding a thread of the shared pool (install.sh takes
    /// about 25 s with the model's self-test).
    func runWithoutBlocking(_ arguments: [String]) async throws -> String {
        let log = try TemporaryDirectory(prefix: "vigil-script")
        defer { log.remove() }
        let output = log.file("output")
        let (process, handle) = try startScript(arguments, output: output)
        while process.isRunning { try await Task.sleep(for: .milliseconds(100)) }
        try handle.close()
        let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
        guard process.terminationStatus == 0 else {
            throw ScriptFailure(description: "\(arguments.joined(separator: " ")) exited with \(process.terminationStatus):\n\(text)")
        }
        return text
    }

    @Test func installIntoAFreshTreeIsIdempotentKeepsEditsAndUninstallKeepsData() throws {
        guard let binary = builtBinary else {
            print("skipped: no vigil binary in .build/release or .build/debug (swift build -c release --product vigil)")
            return
        }
        let tree = try TemporaryDirectory(prefix: "vigil-root")
        defer { tree.remove() }
        let t = tree.path
        let install = ["deploy/install.sh", "--root", t, "--binary", binary, "--no-model", "--with-broker"]

        let first = try run(install)
        for file in ["usr/local/bin/vigil", "etc/vigil/vigil.yaml", "etc/vigil/plant.yaml", "etc/systemd/system/vigil.service",
                     "usr/local/share/vigil/dashboards/grafana-vigil.json", "usr/local/share/vigil/dashboards/node-red-flow.json",
                     "usr/local/share/doc/vigil/DEPLOY.md", "etc/mosquitto/conf.d/vigil.conf", "etc/mosquitto/vigil.acl"] {
            #expect(FileManager.default.fileExists(atPath: "\(t)/\(file)"), "missing \(file); install said:\n\(first)")
        }
        #expect(isDirectory("\(t)/var/lib/vigil"))
        #expect(try String(contentsOfFile: "\(t)/etc/vigil/vigil.yaml", encoding: .utf8)
            == String(contentsOfFile: "\(root)/deploy/vigil.example.yaml", encoding: .utf8))

        // The installed configuration loads (its catalog path points at the target's /etc/vigil).
        var installed = try String(contentsOfFile: "\(t)/etc/vigil/vigil.yaml", encoding: .utf8)
        installed = installed.replacingOccurrences(of: "catalog: /etc/vigil/plant.yaml", with: "catalog: plant.yaml")
        let checked = try tree.write(installed, to: "etc/vigil/check.yaml")
        let config = try AgentConfiguration.load(file: checked)
        #expect(config.stateDirectory == "/var/lib/vigil")
        #expect(try config.loadCatalog().sensors.count > 0)
        try FileManager.default.removeItem(atPath: checked)

        // Again with the same files: nothing is installed anew.
        let second = try run(install)
        #expect(!second.contains("installed "), "a second run changed files:\n\(second)")

        // An edited configuration is kept; this release's example goes beside it.
        let edited = installed.replacingOccurrences(of: "name: gw-north-01", with: "name: gw-edited")
        try edited.write(toFile: "\(t)/etc/vigil/vigil.yaml", atomically: true, encoding: .utf8)
        let third = try run(install)
        #expect(try String(contentsOfFile: "\(t)/etc/vigil/vigil.yaml", encoding: .utf8) == edited)
        #expect(FileManager.default.fileExists(atPath: "\(t)/etc/vigil/vigil.yaml.new"))
        #expect(third.contains("kept your"), "install did not say it kept the configuration:\n\(third)")

        // A state file stands for the outbox: uninstall keeps it, --purge removes it.
        try "state".write(toFile: "\(t)/var/lib/vigil/outbox.db", atomically: true, encoding: .utf8)
        _ = try run(["deploy/uninstall.sh", "--root", t])
        #expect(!FileManager.default.fileExists(atPath: "\(t)/usr/local/bin/vigil"))
        #expect(!FileManager.default.fileExists(atPath: "\(t)/etc/systemd/system/vigil.service"))
        #expect(FileManager.default.fileExists(atPath: "\(t)/var/lib/vigil/outbox.db"))
        #expect(FileManager.default.fileExists(atPath: "\(t)/etc/vigil/vigil.yaml"))
        _ = try run(["deploy/uninstall.sh", "--root", t, "--purge"])
        #expect(!FileManager.default.fileExists(atPath: "\(t)/var/lib/vigil"))
        #expect(!FileManager.default.fileExists(atPath: "\(t)/etc/vigil"))
        #expect(!FileManager.default.fileExists(atPath: "\(t)/etc/mosquitto/vigil.acl"))
    }

    @Test func installRefusesAMissingBinaryWithAnInstruction() throws {
        let tree = try TemporaryDirectory(prefix: "vigil-root")
        defer { tree.remove() }
        let result = try runAllowingFailure(["deploy/install.sh", "--root", tree.path, "--binary", tree.path + "/none", "--no-model"])
        #expect(result.status != 0)
        #expect(result.output.contains("swift build -c release --product vigil"))
    }

    // MARK: - systemd unit

    @Test func unitVerifiesWithSystemdAnalyze() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/systemd-analyze") else {
            print("skipped: systemd-analyze is not installed (apt-get install systemd)")
            return
        }
        // verify checks that ExecStart= exists: check a copy that starts /bin/true instead.
        let scratch = try TemporaryDirectory(prefix: "vigil-unit")
        defer { scratch.remove() }
        let original = try String(contentsOfFile: root + "/deploy/vigil.service", encoding: .utf8)
        #expect(original.contains("\nExecStart=/usr/local/bin/vigil "))
        let copy = try scratch.write(original.replacingOccurrences(of: "\nExecStart=/usr/local/bin/vigil ", with: "\nExecStart=/bin/true "),
                                     to: "vigil.service")
        let result = try runAllowingFailure(["/usr/bin/systemd-analyze", "verify", copy])
        #expect(result.status == 0 && result.output.isEmpty, "systemd-analyze verify:\n\(result.output)")

        let unit = try String(contentsOfFile: root + "/deploy/vigil.service", encoding: .utf8)
        for line in ["Type=notify", "WatchdogSec=", "StateDirectory=vigil", "ConfigurationDirectory=vigil", "ProtectSystem=strict",
                     "ProtectHome=yes", "PrivateTmp=yes", "NoNewPrivileges=yes", "MemoryMax=", "Restart=on-failure",
                     "ExecStart=/usr/local/bin/vigil run --config /etc/vigil/vigil.yaml"] {
            #expect(unit.contains("\n" + line), "vigil.service lacks \(line)")
        }
    }

    // MARK: - broker configuration

    /// deploy/mosquitto's settings on a real mosquitto: it starts with them, and the ACL lets the
    /// agent publish its status, lets a dashboard read it, and keeps the dashboard off sensor topics.
    @Test func brokerConfigurationAndACLWork() throws {
        guard MosquittoBroker.isAvailable, MosquittoClients.path("mosquitto_sub") != nil,
              FileManager.default.isExecutableFile(atPath: "/usr/bin/mosquitto_passwd") else {
            print("skipped: mosquitto, mosquitto-clients are not installed")
            return
        }
        let secrets = try TemporaryDirectory(prefix: "vigil-acl")
        defer { secrets.remove() }
        let passwords = try MosquittoBroker.makePasswordFile(
            users: ["vigil": "agent-pw", "dashboard": "dash-pw", "plc-bridge": "plc-pw"], in: secrets)
        // Our file's settings, less what the test broker sets itself (listeners, files, auth switches).
        let ours = try String(contentsOfFile: root + "/deploy/mosquitto/vigil.conf", encoding: .utf8)
            .split(separator: "\n").map(String.init)
            .filter { !$0.hasPrefix("#") && !$0.trimmingCharacters(in: .whitespaces).isEmpty }
            .filter { line in !["listener", "password_file", "acl_file", "per_listener_settings", "allow_anonymous"]
                .contains(where: { line.hasPrefix($0 + " ") }) }
        #expect(ours.contains { $0.hasPrefix("autosave_interval") })
        let broker = try MosquittoBroker(options: .init(
            passwordFile: passwords, allowAnonymous: false,
            extraConfiguration: ours + ["acl_file \(root)/deploy/mosquitto/vigil.acl"]))
        defer { broker.stop() }
        let port = "\(broker.port)"
        func client(_ user: String, _ password: String) -> [String] {
            ["-h", "127.0.0.1", "-p", port, "-u", user, "-P", password, "-q", "1"]
        }
        // The agent publishes its retained status; a dashboard reads it.
        try MosquittoClients.run("mosquitto_pub", client("vigil", "agent-pw") + ["-t", "vigil/gw1/status", "-r", "-m", "{\"state\":\"online\"}"])
        try MosquittoClients.run("mosquitto_sub", client("dashboard", "dash-pw") + ["-t", "vigil/+/status", "-C", "1", "-W", "5"])
        // A sensor reading from the PLC bridge reaches the agent (retained so a late subscriber sees it).
        try MosquittoClients.run("mosquitto_pub", client("plc-bridge", "plc-pw") + ["-t", "plant/north/pump1/flow", "-r", "-m", "42"])
        try MosquittoClients.run("mosquitto_sub", client("vigil", "agent-pw") + ["-t", "plant/#", "-C", "1", "-W", "5"])
        // A dashboard cannot read sensor topics, and a wrong password cannot connect.
        #expect(throws: (any Error).self) {
            try MosquittoClients.run("mosquitto_sub", client("dashboard", "dash-pw") + ["-t", "plant/#", "-C", "1", "-W", "2"])
        }
        #expect(throws: (any Error).self) {
            try MosquittoClients.run("mosquitto_sub", client("vigil", "wrong") + ["-t", "vigil/#", "-C", "1", "-W", "2"])
        }
    }

    // MARK: - dashboards

    @Test func grafanaDashboardUsesMetricsTheAgentExports() async throws {
        let text = try String(contentsOfFile: root + "/deploy/dashboards/grafana-vigil.json", encoding: .utf8)
        let dashboard = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        let panels = try #require(dashboard["panels"] as? [[String: Any]])
        let expressions = panels.flatMap { ($0["targets"] as? [[String: Any]] ?? []).compactMap { $0["expr"] as? String } }
        #expect(expressions.count >= 10)

        // The agent's own registry, filled by building (not running) its services.
        let config = try AgentConfiguration.parse(yaml: """
            version: 1
            agent: {name: metrics, catalog: \(root)/sensors/plant.yaml, state_dir: /tmp/vigil-unused}
            local: {url: "mqtt://127.0.0.1:1"}
            narration: {enabled: false}
            """)
        let agent = LiveAgent(configuration: config, catalog: try config.loadCatalog(), model: nil,
                              logger: Logger(label: "test"))
        _ = try await agent.makeServiceGroup(signals: false)
        var buffer: [UInt8] = []
        agent.registry.emit(into: &buffer)
        let exported = String(decoding: buffer, as: UTF8.self)

        let pattern = try NSRegularExpression(pattern: "vigil_[a-z_]+")
        var names = Set<String>()
        for e in expressions {
            for m in pattern.matches(in: e, range: NSRange(e.startIndex..., in: e)) {
                guard let range = Range(m.range, in: e) else { continue }
                var name = String(e[range])
                for suffix in ["_bucket", "_sum", "_count"] where name.hasSuffix(suffix) { name.removeLast(suffix.count) }
                names.insert(name)
            }
        }
        #expect(names.count >= 15)
        for name in names.sorted() {
            #expect(exported.contains("# TYPE \(name) "), "the dashboard uses \(name), which the agent does not export")
        }
    }

    @Test func nodeRedFlowSubscribesToTheAgentsTopics() throws {
        let text = try String(contentsOfFile: root + "/deploy/dashboards/node-red-flow.json", encoding: .utf8)
        let nodes = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [[String: Any]])
        let ids = Set(nodes.compactMap { $0["id"] as? String })
        #expect(ids.count == nodes.count, "node ids are not unique")
        // Every wire leads to a node of the flow.
        for node in nodes {
            for output in node["wires"] as? [[String]] ?? [] {
                for target in output { #expect(ids.contains(target), "\(node["id"] ?? "?") is wired to a missing node \(target)") }
            }
        }
        let topics = Set(nodes.filter { $0["type"] as? String == "mqtt in" }.compactMap { $0["topic"] as? String })
        let t = AgentTopics(prefix: "vigil", agent: "gw1", site: "north")
        #expect(topics == ["vigil/+/alerts/#", "vigil/+/active/#", "vigil/+/status"])
        #expect(matches("vigil/+/alerts/#", t.alert(asset: "pump1", sensor: "pump1.flow")))
        #expect(matches("vigil/+/active/#", t.active(sensor: "pump1.flow")))
        #expect(matches("vigil/+/status", t.status))
        #expect(nodes.contains { $0["type"] as? String == "ui-table" })
        #expect(nodes.contains { $0["type"] as? String == "ui-notification" })
    }

    // MARK: - systemd notification

    @Test func notifierSpeaksTheSystemdProtocolOverADatagramSocket() async throws {
        let directory = try TemporaryDirectory(prefix: "vigil-notify")
        defer { directory.remove() }
        let path = directory.path + "/notify"
        let socket = try DatagramListener(path: path)

        #expect(SystemdNotifier(environment: [:]).notify("READY=1") == false)
        let silent = SystemdNotifier(environment: ["NOTIFY_SOCKET": path])
        #expect(silent.watchdogInterval == nil)
        #expect(SystemdNotifier(environment: ["NOTIFY_SOCKET": path, "WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "1"])
            .watchdogInterval == nil)  // a watchdog meant for another process

        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": path, "WATCHDOG_USEC": "200000"])
        #expect(notifier.watchdogInterval == .milliseconds(100))
        let service = SystemdNotifierService(notifier: notifier, status: { "waiting for the local broker" },
                                             logger: Logger(label: "test"))
        let group = ServiceGroup(configuration: .init(services: [.init(service: service)], logger: Logger(label: "test")))
        let task = Task { try await group.run() }
        #expect(try socket.receive(timeout: 5) == "READY=1\nSTATUS=waiting for the local broker")
        #expect(try socket.receive(timeout: 5) == "WATCHDOG=1")
        #expect(try socket.receive(timeout: 5) == "WATCHDOG=1")
        await group.triggerGracefulShutdown()
        try await task.value
        var last = try socket.receive(timeout: 5)
        while last == "WATCHDOG=1" { last = try socket.receive(timeout: 5) }
        #expect(last == "STOPPING=1\nSTATUS=stopping")
    }

    // MARK: - helpers

    func matches(_ filter: String, _ topic: String) -> Bool {
        let f = filter.split(separator: "/", omittingEmptySubsequences: false)
        let t = topic.split(separator: "/", omittingEmptySubsequences: false)
        for (i, level) in f.enumerated() {
            if level == "#" { return true }
            guard i < t.count, level == "+" || level == t[i] else { return false }
        }
        return f.count == t.count
    }

    func isDirectory(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    }

    struct ScriptFailure: Error, CustomStringConvertible {
        let description: String
    }

    /// Runs a command from the repository root; throws with its output when it fails.
    func run(_ arguments: [String]) throws -> String {
        let result = try runAllowingFailure(arguments)
        guard result.status == 0 else {
            throw ScriptFailure(description: "\(arguments.joined(separator: " ")) exited with \(result.status):\n\(result.output)")
        }
        return result.output
    }

    func runAllowingFailure(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let log = try TemporaryDirectory(prefix: "vigil-script")
        defer { log.remove() }
        let (process, handle) = try startScript(arguments, output: log.file("output"))
        process.waitUntilExit()
        try handle.close()
        return (process.terminationStatus, (try? String(contentsOf: log.file("output"), encoding: .utf8)) ?? "")
    }

    /// `arguments` started from the checkout's root, stdout and stderr into `output`.
    func startScript(_ arguments: [String], output: URL) throws -> (Process, FileHandle) {
        let process = Process()
        let executable = arguments[0].hasPrefix("/") ? arguments[0] : root + "/" + arguments[0]
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = Array(arguments.dropFirst())
        process.currentDirectoryURL = URL(fileURLWithPath: root)
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        let handle = try FileHandle(forWritingTo: output)
        process.standardOutput = handle
        process.standardError = handle
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return (process, handle)
    }
}

/// A bound AF_UNIX datagram socket that plays systemd's side of $NOTIFY_SOCKET.
final class DatagramListener {
    let fd: Int32

    init(path: String) throws {
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw DeployTests.ScriptFailure(description: "socket: errno \(errno)") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard result == 0 else { close(fd); throw DeployTests.ScriptFailure(description: "bind \(path): errno \(errno)") }
    }

    deinit { close(fd) }

    /// One datagram as text; throws when none arrives within `timeout` seconds.
    func receive(timeout: Int) throws -> String {
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&poller, 1, Int32(timeout * 1000)) == 1 else {
            throw DeployTests.ScriptFailure(description: "no notification within \(timeout) s")
        }
        var buffer = [UInt8](repeating: 0, count: 4096)
        let count = recv(fd, &buffer, buffer.count, 0)
        guard count >= 0 else { throw DeployTests.ScriptFailure(description: "recv: errno \(errno)") }
        return String(decoding: buffer[..<count], as: UTF8.self)
    }
}
