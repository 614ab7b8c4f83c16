import Logging
import MicroLM
import Narration

/// Finds and loads the narration model named by the configuration (or the default lookup).
public enum AgentModel {
    /// The loaded model, or nil when narration is disabled. A configured model that cannot be
    /// loaded is logged loudly and the agent runs with template narration: an alert without model
    /// text is still an alert.
    public static func load(configuration: AgentConfiguration, logger: Logger) throws -> (any NarrationModel)? {
        guard configuration.narrationEnabled else { return nil }
        let path: String
        do {
            path = try ModelLocator().resolve(explicit: configuration.modelPath)
        } catch {
            logger.error("no narration model; alerts will use template text", metadata: ["error": "\(error)"])
            return nil
        }
        do {
            try configuration.checkModelFile(at: path)
        } catch {
            logger.error("the narration model is not the expected file; alerts will use template text",
                         metadata: ["error": "\(error)"])
            return nil
        }
        if let adapter = configuration.narrationAdapter {
            do {
                try configuration.checkAdapterFile(adapter)
            } catch {
                // The model without its adapter would get a prompt it was not trained for: template text,
                // said loudly, rather than a model other than the one configured.
                logger.error("the narration adapter is not the expected file; alerts will use template text",
                             metadata: ["error": "\(error)"])
                return nil
            }
        }
        return loadModel(path: path, adapter: configuration.narrationAdapter, threads: configuration.narrationThreads,
                         logger: logger)
    }

    /// Throws when the model file found is one `run` would refuse to load: empty, not GGUF or not
    /// the expected SHA-256. Nil when there is no model file (`run` then uses template text, as
    /// after `install.sh --no-model`; `describe` says so); otherwise the path checked.
    public static func check(configuration: AgentConfiguration) throws -> String? {
        guard configuration.narrationEnabled else { return nil }
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
                "load_ms": "\((ContinuousClock.now - started).inSeconds * 1000)"])
            return model
        } catch {
            logger.error("cannot load the narration model; alerts will use template text", metadata: [
                "model": "\(path)", "adapter": "\(adapter?.path ?? "none")", "error": "\(error)"])
            return nil
        }
    }
}

/// Logging set-up for the executable (libraries never bootstrap logging).
public enum Bootstrap {
    public static func logging(level: String, format: String) {
        let level = Logger.Level(rawValue: level) ?? .info
        LoggingSystem.bootstrap { label in
            if format == "json" {
                var handler = JSONLogHandler(label: label)
                handler.logLevel = level
                return handler
            }
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
    }
}
