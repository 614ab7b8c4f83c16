import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A loaded llama-family GGUF model: its configuration, its weights (zero-copy views of the
/// memory-mapped file) and its tokenizer. Immutable and shareable; each conversation runs in
/// its own `InferenceSession`.
public final class LanguageModel: Sendable {
    public let path: String
    public let file: GGUFFile
    public let config: LlamaConfig
    public let weights: LlamaWeights
    public let tokenizer: Tokenizer
    /// The LoRA adapter applied on top of the weights, if any (the base file is unchanged).
    public let adapter: LoRAAdapter?
    /// The chat template of the file (`tokenizer.chat_template`), if any.
    public let chatTemplateSource: String?
    /// Seconds `load` took.
    public let loadSeconds: Double

    private init(path: String, file: GGUFFile, config: LlamaConfig, weights: LlamaWeights, tokenizer: Tokenizer,
                 adapter: LoRAAdapter? = nil, loadSeconds: Double) {
        self.path = path
        self.adapter = adapter
        self.file = file
        self.config = config
        self.weights = weights
        self.tokenizer = tokenizer
        self.chatTemplateSource = file.string("tokenizer.chat_template")
        self.loadSeconds = loadSeconds
    }

    /// Maps the GGUF file at `path` and checks every tensor the architecture needs; with `adapter`,
    /// also loads that LoRA adapter file (see `LoRAAdapter`), refused unless its SHA-256 is
    /// `adapterSHA256` when one is given. Throws `GGUFError` for a malformed file, `TokenizerError`
    /// for a bad vocabulary, `MicroLMError` for a model this engine cannot run and `LoRAError` for
    /// an adapter that does not fit the model.
    public static func load(path: String, adapter adapterPath: String? = nil, adapterSHA256: String? = nil,
                            logger: Logger = Logger(label: "vigil.microlm")) throws -> LanguageModel {
        let start = monotonicSeconds()
        let file = try GGUFFile.open(path: path)
        let config = try LlamaConfig(file: file)
        let weights = try LlamaWeights(file: file, config: config)
        let tokenizer = try Tokenizer(gguf: file)

        guard tokenizer.vocabularySize <= config.vocabularySize else {
            throw MicroLMError.badTensor(name: "token_embd.weight",
                                        reason: "\(config.vocabularySize) rows for \(tokenizer.vocabularySize) tokens")
        }
        let adapter = try adapterPath.map {
            try LoRAAdapter(path: $0, config: config, architecture: file.architecture ?? "llama", expectedSHA256: adapterSHA256)
        }
        let seconds = monotonicSeconds() - start
        logger.debug("model loaded", metadata: [
            "path": "\(path)", "blocks": "\(config.blockCount)", "width": "\(config.embeddingLength)",
            "vocabulary": "\(config.vocabularySize)", "ms": "\(Int(seconds * 1000))",
            "adapter": "\(adapterPath ?? "none")",
        ])
        return LanguageModel(path: path, file: file, config: config, weights: weights, tokenizer: tokenizer,
                             adapter: adapter, loadSeconds: seconds)
    }

    /// This model with `adapter` applied (or none), sharing the mapped weights: no second copy of
    /// the base file. Load the adapter with `LoRAAdapter(path:config:...)` for this model's `config`.
    public func applying(_ adapter: LoRAAdapter?) -> LanguageModel {
        LanguageModel(path: path, file: file, config: config, weights: weights, tokenizer: tokenizer,
                      adapter: adapter, loadSeconds: loadSeconds)
    }
}

/// Seconds on a monotonic clock.
func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}
