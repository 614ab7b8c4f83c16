import Agent
import Foundation
import MQTT
import Testing
import VigilTestSupport

/// Upgrades: a configuration written for an earlier release still loads, or gets a precise message.
@Suite struct DeployConfigurationTests {
    /// The example configuration of every earlier release (Tests/AgentTests/Fixtures/vigil-<release>.yaml).
    static var fixtures: [String] {
        let folder = RepositoryPaths.file("Tests/AgentTests/Fixtures")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return names.filter { $0.hasPrefix("vigil-") && $0.hasSuffix(".yaml") }.sorted().map { "\(folder)/\($0)" }
    }

    @Test func theFixturesOfEarlierReleasesArePresent() {
        #expect(Self.fixtures.contains { $0.hasSuffix("/vigil-0.1.0.yaml") })
    }

    @Test(arguments: fixtures) func aConfigurationOfAnEarlierReleaseLoads(_ file: String) throws {
        let config = try AgentConfiguration.load(file: file)
        #expect(config.agentName == "gw-north-01")
        #expect(config.stateDirectory == "/var/lib/vigil")
        // Sections added since then take their defaults.
        #expect(config.detectorState == DetectorStateSettings(path: "/var/lib/vigil/detector.state"))
    }

    @Test func release010KeepsItsMeaning() throws {
        let config = try AgentConfiguration.load(file: RepositoryPaths.file("Tests/AgentTests/Fixtures/vigil-0.1.0.yaml"))
        #expect(config.local == (try MQTTConfiguration(url: "mqtt://127.0.0.1:1883", clientID: "vigil-gw-north-01")))
        #expect(config.outbox.path == "/var/lib/vigil/outbox.db")
        #expect(config.narrationDeadline == 1.5)
        #expect(config.silentAfter == 120)
        #expect(config.metricsListen == "127.0.0.1:9464")
    }

    @Test func theCurrentExampleDocumentsTheDetectorSection() throws {
        let file = RepositoryPaths.file("deploy/vigil.example.yaml")
        let config = try AgentConfiguration.load(file: file)
        #expect(config.detectorState.persist)
        #expect(config.detectorState.saveInterval == 300)
        #expect(config.detectorState.path == "/var/lib/vigil/detector.state")
        let text = try String(contentsOfFile: file, encoding: .utf8)
        for key in ["persist_state", "state_file", "save_interval"] { #expect(text.contains(key), "\(key) not documented") }
        let schema = try String(contentsOfFile: RepositoryPaths.file("schemas/config.schema.json"), encoding: .utf8)
        for key in ["persist_state", "state_file", "save_interval"] { #expect(schema.contains("\"\(key)\""), "\(key) not in the schema") }
    }

    static let minimal = """
        agent: {name: gw1, catalog: plant.yaml}
        local: {url: "mqtt://127.0.0.1:1883"}

        """

    @Test func detectorSettings() throws {
        let config = try AgentConfiguration.parse(
            yaml: Self.minimal + "detector: {persist_state: false, state_file: state/d.bin, save_interval: 0}\n",
            file: "/etc/vigil/vigil.yaml")
        #expect(!config.detectorState.persist)
        #expect(config.detectorState.path == "/etc/vigil/state/d.bin")
        #expect(config.detectorState.saveInterval == 0)
        let custom = try AgentConfiguration.parse(yaml: Self.minimal.replacingOccurrences(
            of: "catalog: plant.yaml", with: "catalog: plant.yaml, state_dir: /srv/vigil"), file: "/etc/vigil/vigil.yaml")
        #expect(custom.detectorState.path == "/srv/vigil/detector.state")
    }

    /// The line (1-based) of the first line of `yaml` that contains `fragment`.
    func line(of fragment: String, in yaml: String) -> Int {
        (yaml.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0.contains(fragment) } ?? -1) + 1
    }

    @Test(arguments: [
        ("detector: {save_interval: 0.5s}\n", "save_interval", "expected 0 (save on shutdown only) or at least 1s"),
        ("detector: {persist_state: maybe}\n", "persist_state", "expected true or false"),
        ("detector:\n  save_intervall: 5m\n", "save_intervall", "unknown key `save_intervall` (did you mean `save_interval`?)"),
        ("ingest:\n  max_payload: 4096\n", "max_payload", "unknown key `max_payload`; allowed: max_age, max_future_skew, max_payload_bytes"),
        ("detectors: {}\n", "detectors", "(did you mean `detector`?)"),
    ])
    func unknownOrWrongKeysAreNamedWithTheirLine(_ extra: String, _ key: String, _ fragment: String) {
        let yaml = Self.minimal + extra
        do {
            _ = try AgentConfiguration.parse(yaml: yaml, file: "/etc/vigil/vigil.yaml")
            Issue.record("expected an error containing \(fragment)")
        } catch {
            #expect("\(error)".hasPrefix("/etc/vigil/vigil.yaml:\(line(of: key, in: yaml)):"), "\(error)")
            #expect("\(error)".contains(fragment), "\(error)")
        }
    }

    @Test func aRenamedKeyIsNamedWithItsNewName() {
        let renames = [
            RenamedConfigurationKey(old: "ingest.silence_timeout", new: "ingest.silent_after", release: "0.2.0"),
            RenamedConfigurationKey(old: "agent.state_directory", new: "agent.state_dir", release: "0.2.0"),
        ]
        let yaml = Self.minimal + "ingest:\n  max_age: 1h\n  silence_timeout: 2m\n"
        do {
            _ = try AgentConfiguration.parse(yaml: yaml, file: "/etc/vigil/vigil.yaml", renamedKeys: renames)
            Issue.record("a renamed key was accepted")
        } catch {
            let text = "\(error)"
            #expect(text.hasPrefix("/etc/vigil/vigil.yaml:\(line(of: "silence_timeout", in: yaml)):"), "\(text)")
            #expect(text.contains("`ingest.silence_timeout` was renamed to `ingest.silent_after` in vigil 0.2.0"), "\(text)")
        }
    }
}
