import Foundation
import Logging
import MicroLM
import ModelBundle
import Narration

/// Which model narrates and where it came from: the status message and `vigil_model_info` say it.
public struct ModelProvenance: Sendable, Equatable, Codable {
    /// The bundle's name, or the model file's name without a bundle.
    public var name: String
    /// The bundle's version, or `file` without a bundle.
    public var version: String
    /// `bundle` (signed, verified at start) or `file` (narration.model, SHA-256 pinned).
    public var source: String
    /// Whether the narration adapter is applied (the tuned prompt).
    public var tuned: Bool
    /// The bundle `current` named when it was refused at start and the previous one runs instead.
    public var rolledBackFrom: String?
    /// Why that bundle was refused (a `BundleError` reason).
    public var refusedReason: String?

    public init(name: String, version: String, source: String, tuned: Bool, rolledBackFrom: String? = nil, refusedReason: String? = nil) {
        self.name = name
        self.version = version
        self.source = source
        self.tuned = tuned
        self.rolledBackFrom = rolledBackFrom
        self.refusedReason = refusedReason
    }

    enum CodingKeys: String, CodingKey {
        case name, version, source, tuned
        case rolledBackFrom = "rolled_back_from"
        case refusedReason = "refused_reason"
    }
}

/// The model `run` narrates with, where it came from, and the bundles refused on the way.
public struct LoadedNarrationModel: Sendable {
    public var model: (any NarrationModel)?
    public var provenance: ModelProvenance?
    /// Each refused bundle's id and reason (`vigil_model_bundle_refused_total{reason}`).
    public var refused: [(id: String, reason: String)] = []

    public init(model: (any NarrationModel)?, provenance: ModelProvenance?, refused: [(id: String, reason: String)] = []) {
        self.model = model
        self.provenance = provenance
        self.refused = refused
    }
}

/// Finds and loads the narration model named by the configuration (or the default lookup).
public enum AgentModel {
    /// The loaded model, or none when narration is disabled. A configured model that cannot be
    /// loaded is logged loudly and the agent runs with template narration: an alert without model
    /// text is still an alert. With `narration.trusted_keys`, only a verified bundle is loaded:
    /// the store's current one, else (logged, reported) the previous one, else the template.
    public static func load(configuration: AgentConfiguration, logger: Logger) -> LoadedNarrationModel {
        guard configuration.narrationEnabled else { return LoadedNarrationModel(model: nil, provenance: nil) }
        if let bundles = configuration.narrationBundles {
            return loadBundle(bundles, threads: configuration.narrationThreads, logger: logger)
        }
        let path: String
        do {
            path = try ModelLocator().resolve(explicit: configuration.modelPath)
        } catch {
            logger.error("no narration model; alerts will use template text", metadata: ["error": "\(error)"])
            return LoadedNarrationModel(model: nil, provenance: nil)
        }
        do {
            try configuration.checkModelFile(at: path)
        } catch {
            logger.error("the narration model is not the expected file; alerts will use template text",
                         metadata: ["error": "\(error)"])
            return LoadedNarrationModel(model: nil, provenance: nil)
        }
        if let adapter = configuration.narrationAdapter {
            do {
                try configuration.checkAdapterFile(adapter)
            } catch {
                // The model without its adapter would get a prompt it was not trained for: template text,
                // said loudly, rather than a model other than the one configured.
                logger.error("the narration adapter is not the expected file; alerts will use template text",
                             metadata: ["error": "\(error)"])
                return LoadedNarrationModel(model: nil, provenance: nil)
            }
        }
        let model = loadModel(path: path, adapter: configuration.narrationAdapter, threads: configuration.narrationThreads,
                              logger: logger)
        let provenance = ModelProvenance(name: URL(fileURLWithPath: path).lastPathComponent, version: "file", source: "file",
                                         tuned: configuration.narrationAdapter != nil)
        return LoadedNarrationModel(model: model, provenance: model == nil ? nil : provenance)
    }

    /// The store's current bundle, verified and loaded; the previous one when the current one is
    /// refused; the template when neither loads.
    static func loadBundle(_ settings: NarrationBundleSettings, threads: Int, logger: Logger) -> LoadedNarrationModel {
        let store = BundleStore(root: settings.store)
        var candidates: [String] = []
        for id in [store.current, store.previous].compactMap({ $0 }) where !candidates.contains(id) { candidates.append(id) }
        guard !candidates.isEmpty else {
            logger.error("no model bundle is installed; alerts will use template text", metadata: [
                "store": "\(settings.store)", "fix": "vigil model install BUNDLE (deploy/install.sh installs the default bundle)"])
            return LoadedNarrationModel(model: nil, provenance: nil, refused: [("none", BundleError.Reason.notInstalled.rawValue)])
        }
        var refused: [(id: String, reason: String)] = []
        for id in candidates {
            do {
                let bundle = try BundleVerifier.verify(directory: store.directory(id), trustedKeys: settings.trustedKeys,
                                                       vigilVersion: VigilVersion.string, cache: store.hashCache)
                let model = try MicroLMNarrationModel.load(path: bundle.modelPath, adapter: bundle.path(.adapter),
                                                           adapterSHA256: bundle.manifest.file(.adapter)?.sha256,
                                                           threads: threads, logger: logger)
                logger.info("narration bundle verified and loaded", metadata: [
                    "bundle": "\(id)", "key": "\(bundle.key.id)", "hashed_files": "\(bundle.hashedFiles)",
                    "verify_ms": "\(bundle.elapsed / .milliseconds(1))"])
                var provenance = ModelProvenance(name: bundle.manifest.name, version: bundle.manifest.version, source: "bundle",
                                                 tuned: bundle.manifest.file(.adapter) != nil)
                if let first = refused.first {
                    provenance.rolledBackFrom = first.id
                    provenance.refusedReason = first.reason
                    logger.warning("running the previous model bundle: the current one was refused", metadata: [
                        "bundle": "\(id)", "refused": "\(first.id)", "reason": "\(first.reason)"])
                }
                return LoadedNarrationModel(model: model, provenance: provenance, refused: refused)
            } catch let error as BundleError {
                refused.append((id, error.reason.rawValue))
                logger.error("refusing the model bundle", metadata: ["bundle": "\(id)", "reason": "\(error.reason.rawValue)",
                                                                    "error": "\(error.message)"])
            } catch {
                refused.append((id, "load_failed"))
                logger.error("cannot load the model bundle", metadata: ["bundle": "\(id)", "error": "\(error)"])
            }
        }
        logger.error("no model bundle could be loaded; alerts will use template text", metadata: ["store": "\(settings.store)"])
        return LoadedNarrationModel(model: nil, provenance: nil, refused: refused)
    }

    /// Throws when the model file found is one `run` would refuse to load: empty, not GGUF or not
    /// the expected SHA-256. Nil when there is no model file (`run` then uses template text, as
    /// after `install.sh --no-model`; `describe` says so); otherwise the path checked.
    public static func check(configuration: AgentConfiguration) throws -> String? {
        guard configuration.narrationEnabled else { return nil }
        if let bundles = configuration.narrationBundles {
            let store = BundleStore(root: bundles.store)
            guard let id = store.current else { return nil }
            do {
                let bundle = try BundleVerifier.verify(directory: store.directory(id), trustedKeys: bundles.trustedKeys,
                                                       vigilVersion: VigilVersion.string, cache: store.hashCache)
                return "bundle \(id) in \(bundles.store) (signed by key \(bundle.key.id), files checked)"
            } catch let error as BundleError {
                throw AgentError("\(configuration.file): the current model bundle \(id) in \(bundles.store) is refused: \(error)"
                    + (store.previous.map { "; `vigil model rollback` returns to \($0)" } ?? ""))
            }
        }
        guard let path = try? ModelLocator().resolve(explicit: configuration.modelPath) else { return nil }
        try configuration.checkModelFile(at: path)
        if let adapter = configuration.narrationAdapter {
            try configuration.checkAdapterFile(adapter)
            // Its tensors must fit this model: loaded once here, as `run` will.
            do {
                _ = try LanguageModel.load(path: path, adapter: adapter.path, adapterSHA256: adapter.sha256)
            } catch {
                throw AgentError("\(configuration.file): narration.adapter `\(adapter.path)`: \(error)")
            }
        }
        return path
    }

    /// A line for `vigil check-config`.
    public static func describe(configuration: AgentConfiguration) -> String {
        if let bundles = configuration.narrationBundles {
            return "NO MODEL BUNDLE INSTALLED in \(bundles.store) (template text only): install one with `vigil model install`"
        }
        do {
            let path = try ModelLocator().resolve(explicit: configuration.modelPath)
            return "model \(path)" + (configuration.narrationAdapter.map { ", adapter \($0.path) (tuned prompt)" } ?? "")
        } catch {
            return "NO MODEL FOUND (template text only): \(error)"
        }
    }

    /// Loads a model file for narration; nil (logged loudly) when the file is not a usable model.
    /// With `adapter`, the LoRA adapter applied on top (refused, and nil returned, unless it has its SHA-256
    /// and fits the model).
    public static func loadModel(path: String, adapter: NarrationAdapterSettings? = nil, threads: Int,
                                 logger: Logger) -> (any NarrationModel)? {
        do {
            let started = ContinuousClock.now
            let model = try MicroLMNarrationModel.load(path: path, adapter: adapter?.path, adapterSHA256: adapter?.sha256,
                                                       threads: threads, logger: logger)
            logger.info("narration model loaded", metadata: [
                "model": "\(path)", "adapter": "\(adapter?.path ?? "none")",
                "load_ms": "\((ContinuousClock.now - started) / .milliseconds(1))"])
            return model
        } catch {
            logger.error("cannot load the narration model; alerts will use template text", metadata: [
                "model": "\(path)", "adapter": "\(adapter?.path ?? "none")", "error": "\(error)"])
            return nil
        }
    }
}
