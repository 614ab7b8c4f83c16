import Agent
import Foundation
import Logging
import MicroLM
import ModelBundle
import Testing
import VigilTestSupport

enum RealModel {
    static let path: String? = {
        let candidates: [String?] = [ProcessInfo.processInfo.environment["VIGIL_MODEL"],
                                     RepositoryPaths.file("models/" + ModelLocator.defaultFileName)]
        return candidates.compactMap { $0 }.first { FileManager.default.fileExists(atPath: $0) }
    }()
    static let defaultBundle = RepositoryPaths.file("deploy/bundles/smollm2-narration")
}

/// Bundles of the real model: the committed default bundle, the self-test that gates a switch, and
/// what the agent loads at start when the current bundle is refused.
@Suite(.serialized, .enabled(if: RealModel.path != nil, "no model file (models/ or $VIGIL_MODEL)"))
struct BundleAgentTests {
    let logger = Logger(label: "test.bundles")

    /// A bundle of the real model (hard-linked, never written) with `events` lines of the default
    /// bundle's self-test events, signed by `key`.
    func pack(_ dir: TemporaryDirectory, version: String, events: [Int], minModelShare: Double, key: BundleSigningKey) throws -> String {
        let lines = try String(contentsOfFile: RealModel.defaultBundle + "/self-test-events.jsonl", encoding: .utf8)
            .split(separator: "\n")
        let eventsFile = dir.path + "/events-\(version).jsonl"
        try (events.map { String(lines[$0]) }.joined(separator: "\n") + "\n").write(toFile: eventsFile, atomically: true, encoding: .utf8)
        let catalog = dir.path + "/catalog-\(version).yaml"
        try FileManager.default.copyItem(atPath: RealModel.defaultBundle + "/self-test-catalog.yaml", toPath: catalog)
        let out = dir.path + "/bundle-\(version)"
        _ = try BundleWriter.pack(into: out, name: "vigil-test", version: version, minVigilVersion: "0.1.0",
                                  files: [(.model, RealModel.path!), (.selfTestEvents, eventsFile), (.selfTestCatalog, catalog)],
                                  minModelShare: minModelShare)
        _ = try BundleWriter.sign(directory: out, key: key)
        return out
    }

    @Test func theCommittedDefaultBundleVerifiesAgainstTheCommittedKey() throws {
        let dir = try TemporaryDirectory(prefix: "vigil-default-bundle")
        let fm = FileManager.default
        for name in try fm.contentsOfDirectory(atPath: RealModel.defaultBundle) {
            try fm.copyItem(atPath: RealModel.defaultBundle + "/" + name, toPath: dir.path + "/" + name)
        }
        try fm.linkItem(atPath: RealModel.path!, toPath: dir.path + "/" + ModelLocator.defaultFileName)
        let key = try BundlePublicKey(text: String(contentsOfFile: RepositoryPaths.file("deploy/keys/vigil-default.pub"), encoding: .utf8))
        let b = try BundleVerifier.verify(directory: dir.path, trustedKeys: [key], vigilVersion: VigilVersion.string)
        #expect(b.manifest.file(.model)?.sha256 == ModelLocator.defaultSHA256)
        // The example configuration trusts the same key.
        let config = try AgentConfiguration.load(file: RepositoryPaths.file("deploy/vigil.example.yaml"))
        #expect(config.narrationBundles?.trustedKeys.contains(key) == true)
    }

    @Test func installSwitchesOnlyToABundleThatPassesItsSelfTest() async throws {
        let dir = try TemporaryDirectory(prefix: "vigil-install")
        let key = BundleSigningKey.generate()
        let store = BundleStore(root: dir.path + "/store")
        // Event 1 gets model text; event 4 does not (the template narrates it): a share of 1/2.
        let good = try pack(dir, version: "1.0.0", events: [1, 4], minModelShare: 0.5, key: key)
        let first = try await BundleInstaller.install(directory: good, store: store, trustedKeys: [key.publicKey], logger: logger)
        #expect(first.failure == nil)
        #expect(first.activated)
        #expect(first.selfTest?.events == 2)
        #expect(first.selfTest?.modelAccepted == 1)
        #expect(first.selfTest?.unverifiedDelivered == 0)
        #expect(store.current == "vigil-test-1.0.0")

        // The same model and events, but the bundle asks for model text on every event.
        let strict = try pack(dir, version: "1.1.0", events: [1, 4], minModelShare: 1.0, key: key)
        let second = try await BundleInstaller.install(directory: strict, store: store, trustedKeys: [key.publicKey], logger: logger)
        #expect(second.failure != nil)
        #expect(!second.activated)
        #expect(second.running?.bundle == "vigil-test-1.0.0")
        #expect(store.current == "vigil-test-1.0.0")
        #expect(store.installed().contains("vigil-test-1.1.0"))

        // Not signed by a trusted key: refused before anything is copied.
        let stranger = try pack(dir, version: "2.0.0", events: [1], minModelShare: 0, key: BundleSigningKey.generate())
        await #expect(throws: BundleError.self) {
            _ = try await BundleInstaller.install(directory: stranger, store: store, trustedKeys: [key.publicKey], logger: self.logger)
        }
        #expect(!store.installed().contains("vigil-test-2.0.0"))
    }

    @Test func theAgentRunsThePreviousBundleWhenTheCurrentOneIsRefused() throws {
        let dir = try TemporaryDirectory(prefix: "vigil-agent-bundle")
        let key = BundleSigningKey.generate()
        let store = BundleStore(root: dir.path + "/store")
        for version in ["1.0.0", "1.1.0"] {
            let b = try BundleVerifier.verify(directory: try pack(dir, version: version, events: [1], minModelShare: 0, key: key),
                                              trustedKeys: [key.publicKey], vigilVersion: VigilVersion.string)
            _ = try store.add(b, trustedKeys: [key.publicKey], vigilVersion: VigilVersion.string)
            try store.activate(b.manifest.id)
        }
        let yaml = """
            agent: {name: gw1, catalog: plant.yaml, state_dir: \(dir.path)}
            local: {url: "mqtt://127.0.0.1:1883"}
            narration:
              trusted_keys: [\(key.publicKey.text)]
              bundles: \(store.root)
            """
        let config = try AgentConfiguration.parse(yaml: yaml, file: dir.path + "/vigil.yaml")
        let loaded = AgentModel.load(configuration: config, logger: logger)
        #expect(loaded.model != nil)
        #expect(loaded.provenance == ModelProvenance(name: "vigil-test", version: "1.1.0", source: "bundle", tuned: false))
        #expect(loaded.refused.isEmpty)

        // The current bundle's self-test file changes after install (never the shared model file).
        let events = store.directory("vigil-test-1.1.0") + "/events-1.1.0.jsonl"
        let text = try String(contentsOfFile: events, encoding: .utf8)
        try FileManager.default.removeItem(atPath: events)
        try text.replacingOccurrences(of: "pump", with: "PUMP").write(toFile: events, atomically: true, encoding: .utf8)
        let fallback = AgentModel.load(configuration: config, logger: logger)
        #expect(fallback.model != nil)
        #expect(fallback.provenance?.version == "1.0.0")
        #expect(fallback.provenance?.rolledBackFrom == "vigil-test-1.1.0")
        #expect(fallback.provenance?.refusedReason == "hash_mismatch")
        #expect(fallback.refused.map(\.reason) == ["hash_mismatch"])

        // Neither verifies under another key: template text, both refusals counted.
        var other = config
        other.narrationBundles?.trustedKeys = [BundleSigningKey.generate().publicKey]
        let none = AgentModel.load(configuration: other, logger: logger)
        #expect(none.model == nil)
        #expect(none.refused.map(\.reason) == ["untrusted_key", "untrusted_key"])

        // The status message says which bundle runs.
        let status = AgentStatus(agent: "gw1", state: "online", version: VigilVersion.string, model: fallback.model?.name,
                                 modelBundle: fallback.provenance)
        let json = String(decoding: status.jsonBytes(), as: UTF8.self)
        #expect(json.contains("\"rolled_back_from\":\"vigil-test-1.1.0\""))
        var validator = try JSONSchemaValidator(directory: RepositoryPaths.file("schemas"), file: "status.schema.json")
        #expect(try validator.validate(json: json).isEmpty)
    }
}

@Suite struct BundleConfigurationTests {
    static let base = """
        agent: {name: gw1, catalog: plant.yaml}
        local: {url: "mqtt://127.0.0.1:1883"}

        """

    @Test(arguments: [
        ("narration: {trusted_keys: [ed25519:AAAA]}", "32 bytes"),
        ("narration: {trusted_keys: []}", "at least one public key"),
        ("narration: {trusted_keys: [/nonexistent/key.pub]}", "cannot read the public key file"),
        ("narration: {bundles: /var/lib/x}", "`bundles` needs `trusted_keys`"),
        ("narration: {trusted_keys: [ed25519:roW+UtK3TZX/l0iypM4Pfkip0PIeNoZ0769PXc9auPE=], model: /m.gguf}", "`model` cannot be used with `trusted_keys`"),
    ])
    func badBundleSettingsAreRefusedWithWhatToDo(_ narration: String, _ message: String) {
        do {
            _ = try AgentConfiguration.parse(yaml: Self.base + narration)
            Issue.record("accepted: \(narration)")
        } catch {
            #expect("\(error)".contains(message), "\(error)")
        }
    }

    @Test func theStoreDefaultsToTheStateDirectory() throws {
        let c = try AgentConfiguration.parse(yaml: Self.base + "narration: {trusted_keys: [ed25519:roW+UtK3TZX/l0iypM4Pfkip0PIeNoZ0769PXc9auPE=]}")
        #expect(c.narrationBundles?.store == "/var/lib/vigil/models/bundles")
        #expect(c.narrationBundles?.trustedKeys.count == 1)
    }
}
