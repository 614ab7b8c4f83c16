import Detection
import Logging
import ModelBundle
import Narration
import Telemetry

/// What a bundle's self-test measured: its recorded events narrated by a model, checked by the
/// verifier as the agent does.
public struct BundleSelfTestResult: Sendable, CustomStringConvertible {
    /// The bundle whose model narrated.
    public var bundle: String
    public var events: Int
    /// Events whose model text the verifier accepted.
    public var modelAccepted: Int
    /// Delivered text that fails the verifier when checked again (must be 0).
    public var unverifiedDelivered: Int
    public var medianLatencyMs: Double

    public var modelShare: Double { events == 0 ? 0 : Double(modelAccepted) / Double(events) }

    public var description: String {
        "\(bundle): model text \(modelAccepted)/\(events) (\(Int((modelShare * 100).rounded())) %), "
            + "unverified \(unverifiedDelivered), median \(Int(medianLatencyMs.rounded())) ms"
    }
}

/// The narration self-test a bundle must pass before `vigil model install` makes it current: the
/// bundle's own recorded events (`self_test_events`, with the catalog they name) narrated by its
/// model, at least the manifest's `min_model_share` of them with model text, none unverified, and
/// no worse than the running bundle's model on the same events.
public enum BundleSelfTest {
    /// Narrates `events`'s self-test events with `model`'s model (the same bundle, or the running
    /// one for comparison).
    public static func run(events: VerifiedBundle, model: VerifiedBundle, threads: Int, logger: Logger) async throws -> BundleSelfTestResult {
        guard let eventsPath = events.path(.selfTestEvents), let catalogPath = events.path(.selfTestCatalog) else {
            throw BundleError(.badField, "\(events.manifest.id) has no self-test files")
        }
        let catalog: Catalog
        let recorded: [AnomalyEvent]
        do {
            catalog = try Catalog.load(file: catalogPath)
            recorded = try EventFile.read(file: eventsPath)
        } catch {
            throw BundleError(.selfTestFailed, "\(events.manifest.id): the self-test files do not load: \(error)")
        }
        guard !recorded.isEmpty, recorded.count <= 200 else {
            throw BundleError(.selfTestFailed, "\(events.manifest.id): the self-test holds \(recorded.count) events; 1 to 200 are run")
        }
        let narrationModel: any NarrationModel
        do {
            narrationModel = try MicroLMNarrationModel.load(path: model.modelPath, adapter: model.path(.adapter),
                                                            adapterSHA256: model.manifest.file(.adapter)?.sha256,
                                                            threads: threads, logger: logger)
        } catch {
            throw BundleError(.selfTestFailed, "\(model.manifest.id): the model does not load: \(error)")
        }
        let narrator = Narrator(catalog: catalog, model: narrationModel,
                                configuration: AgentNarration.configuration(tuned: model.manifest.file(.adapter) != nil),
                                logger: logger)
        await narrator.prepare()
        let report = await narrator.evaluate(recorded)
        return BundleSelfTestResult(bundle: model.manifest.id, events: report.count, modelAccepted: report.modelAccepted,
                                    unverifiedDelivered: report.unverifiedDelivered,
                                    medianLatencyMs: EvaluationReport.percentile(report.latenciesMs, 50))
    }

    /// Nil when `candidate` passes `manifest`'s self-test (and does at least as well as `running`);
    /// otherwise why not.
    public static func verdict(_ candidate: BundleSelfTestResult, running: BundleSelfTestResult?,
                               manifest: BundleManifest) -> String? {
        if candidate.unverifiedDelivered > manifest.selfTest.maxUnverified {
            return "\(candidate.unverifiedDelivered) delivered texts fail the verifier"
        }
        if candidate.modelShare + 1e-9 < manifest.selfTest.minModelShare {
            return "model text for \(candidate.modelAccepted)/\(candidate.events) events; the bundle asks for at least \(Int((manifest.selfTest.minModelShare * 100).rounded())) %"
        }
        if let running, candidate.modelShare + 1e-9 < running.modelShare {
            return "model text for \(candidate.modelAccepted)/\(candidate.events) events, fewer than the running \(running.bundle) (\(running.modelAccepted))"
        }
        return nil
    }
}

/// `vigil model install`: a signed bundle into the store, then current only when its self-test passes.
public enum BundleInstaller {
    public struct Outcome: Sendable {
        /// The bundle as installed in the store.
        public var bundle: VerifiedBundle
        /// Its self-test, and the running bundle's model on the same events (nil: skipped, or none runs).
        public var selfTest: BundleSelfTestResult?
        public var running: BundleSelfTestResult?
        /// Why the self-test failed (the bundle is then installed but not current).
        public var failure: String?
        /// The bundle current before, and whether the new one is current now.
        public var before: String?
        public var activated: Bool
    }

    /// Verifies `directory` against `trustedKeys`, copies it into `store` and, unless `activate` is
    /// false, makes it current when its self-test passes (`selfTest` false: without one). A bundle
    /// that fails stays installed and the current one stays current.
    public static func install(directory: String, store: BundleStore, trustedKeys: [BundlePublicKey],
                               activate: Bool = true, selfTest: Bool = true, threads: Int = 2,
                               logger: Logger) async throws -> Outcome {
        let source = try BundleVerifier.verify(directory: directory, trustedKeys: trustedKeys, vigilVersion: VigilVersion.string)
        let installed = try store.add(source, trustedKeys: trustedKeys, vigilVersion: VigilVersion.string)
        let before = store.current
        var outcome = Outcome(bundle: installed, before: before, activated: false)
        guard activate else { return outcome }
        if selfTest {
            let result = try await BundleSelfTest.run(events: installed, model: installed, threads: threads, logger: logger)
            outcome.selfTest = result
            if let before, before != installed.manifest.id,
               let running = try? BundleVerifier.verify(directory: store.directory(before), trustedKeys: trustedKeys,
                                                        vigilVersion: VigilVersion.string, cache: store.hashCache) {
                outcome.running = try? await BundleSelfTest.run(events: installed, model: running, threads: threads, logger: logger)
            }
            outcome.failure = BundleSelfTest.verdict(result, running: outcome.running, manifest: installed.manifest)
            if outcome.failure != nil { return outcome }
        }
        try store.activate(installed.manifest.id)
        outcome.activated = true
        return outcome
    }
}
