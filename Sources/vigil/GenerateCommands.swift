import ArgumentParser
import Foundation
import MicroLM

/// Options shared by the commands that run the language model.
struct EngineOptions: ParsableArguments {
    @Option(help: "The GGUF model file (default: $VIGIL_MODEL, ./models/…, /var/lib/vigil/models/…).")
    var model: String?

    @Option(help: "Threads for the kernels (default: the cores available).")
    var threads: Int?

    @Option(help: ArgumentHelp("A LoRA adapter (GGUF, llama.cpp's format) to apply on top of the model.", valueName: "file"))
    var adapter: String?

    func validate() throws {
        if let threads, threads < 1 || threads > 256 { throw ValidationError("--threads must be between 1 and 256") }
    }

    func resolveModel() throws -> String {
        do {
            return try ModelLocator().resolve(explicit: model)
        } catch {
            throw ValidationError("\(error)")
        }
    }

    /// The model at `resolveModel()` with the `--adapter`, or an error that says which file failed.
    func loadModel() throws -> (path: String, model: LanguageModel) {
        let path = try resolveModel()
        let model: LanguageModel
        do {
            model = try LanguageModel.load(path: path)
        } catch {
            throw CommandFailure("cannot load the model '\(path)': \(error)")
        }
        guard let adapter else { return (path, model) }
        do {
            let lora = try LoRAAdapter(path: adapter, config: model.config, architecture: model.file.architecture ?? "llama")
            return (path, model.applying(lora))
        } catch {
            throw CommandFailure("cannot load the adapter: \(error)")
        }
    }
}

/// The workload of ../shared/tools/llama-reference-bench, so the two print comparable lines:
/// a 256-token prompt in one batch, then 64 tokens evaluated one at a time after it.
struct BenchGenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Prompt processing and generation speed of the language model engine.",
        discussion: """
            Same workload as llama-reference-bench: the text "The pump discharge pressure fell sharply \
            while the motor current rose. " repeated, its first 256 tokens evaluated in one batch, then \
            64 tokens evaluated one at a time after them; repeated --runs times. Prints median, min and \
            max tokens/s of both phases, the load time and the peak resident memory.
            """
    )

    @OptionGroup var engine: EngineOptions

    @Option(help: "Repetitions.")
    var runs: Int = 5

    func validate() throws {
        if runs < 1 || runs > 1000 { throw ValidationError("--runs must be between 1 and 1000") }
    }

    func run() throws {
        let (path, model) = try engine.loadModel()
        if let a = model.adapter { print("LoRA adapter \(a.path): \(a.matrixCount) matrices, rank \(a.maxRank), alpha \(a.alpha)") }
        let session = try InferenceSession(model: model, contextLength: 1024, threads: engine.threads, batchSize: 512)
        let text = String(repeating: "The pump discharge pressure fell sharply while the motor current rose. ", count: 40)
        let ids = Array(model.tokenizer.encode(text, parseSpecial: false).prefix(256))
        guard ids.count == 256 else { throw CommandFailure("the tokenizer gave \(ids.count) tokens, expected 256") }
        var prompt: [Double] = [], generate: [Double] = []
        var promptCPU: [Double] = [], generateCPU: [Double] = []
        for _ in 0..<runs {
            session.reset()
            var start = Date(), cpu = processCPUSeconds()
            try session.append(ids)
            prompt.append(Double(ids.count) / Date().timeIntervalSince(start))
            promptCPU.append(Double(ids.count) / (processCPUSeconds() - cpu))
            start = Date()
            cpu = processCPUSeconds()
            for i in 0..<64 { try session.append([ids[i]]) }
            generate.append(64 / Date().timeIntervalSince(start))
            generateCPU.append(64 / (processCPUSeconds() - cpu))
        }
        func row(_ name: String, _ xs: [Double]) -> String {
            let s = xs.sorted()
            let median = s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
            return "\(name): median \(format(median)) tok/s (min \(format(s.first!)), max \(format(s.last!)))"
        }
        print("vigil MicroLM, \(session.threadCount) threads, \(runs) runs, model \(path), kernels \(Kernels.path) (SIMD level \(Kernels.simdLevel))")
        print(row("prompt (256 tokens, one batch)", prompt))
        print(row("generate (64 tokens after the prompt)", generate))
        print("load: \(format(model.loadSeconds * 1000)) ms, peak RSS: \(peakResidentMiB()) MiB")
        print(row("per CPU-second of the process (robust on a busy machine): prompt", promptCPU))
        print(row("per CPU-second of the process: generate", generateCPU))
    }
}

/// An error that ends a command with its message (and no usage text).
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

func format(_ x: Double) -> String { String(format: "%.1f", x) }

/// CPU seconds this process has used (all threads, user and system).
func processCPUSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// Peak resident set size of this process in MiB.
func peakResidentMiB() -> Int {
    var usage = rusage()
    getrusage(Int32(RUSAGE_SELF.rawValue), &usage)
    return usage.ru_maxrss / 1024
}

/// `vigil generate "<prompt>"`: text from the on-device model, streamed to stdout.
struct GenerateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Generate text with the on-device language model.",
        discussion: """
            By default the prompt is the user message of a chat (the model's ChatML template, with \
            --system as the system message). --raw continues the prompt as plain text instead. \
            Greedy decoding unless --temperature is above 0.

            Examples:
              vigil generate "What does a centrifugal pump do?"
              vigil generate --raw --max-tokens 20 "The pump discharge pressure"
              vigil generate --temperature 0.7 --seed 3 --stop "." --timing "Describe a bearing fault."
              vigil generate --adapter models/vigil-narration-lora.gguf --system "…" "Facts: …"
            """
    )

    @Argument(help: "The prompt.")
    var prompt: String

    @OptionGroup var engine: EngineOptions

    @Option(help: "System message of the chat (default: the template's).")
    var system: String?

    @Flag(help: "Continue the prompt as plain text, without the chat template.")
    var raw = false

    @Option(help: "Sampling temperature; 0 is greedy.")
    var temperature: Float = 0

    @Option(name: .customLong("top-k"), help: "Keep the k most likely tokens (0: all).")
    var topK: Int = 40

    @Option(name: .customLong("top-p"), help: "Nucleus sampling mass (1: off).")
    var topP: Float = 0.95

    @Option(name: .customLong("min-p"), help: "Drop tokens below min-p times the best one's probability (0: off).")
    var minP: Float = 0.05

    @Option(name: .customLong("repeat-penalty"), help: "Penalty for tokens seen in the last 64 (1: off).")
    var repeatPenalty: Float = 1

    @Option(help: "Random seed.")
    var seed: UInt64 = 0

    @Option(name: .customLong("max-tokens"), help: "Most tokens to generate.")
    var maxTokens: Int = 256

    @Option(help: "Stop before this text (repeatable).")
    var stop: [String] = []

    @Flag(help: "Print load, prompt and generation times and speeds to stderr.")
    var timing = false

    func validate() throws {
        if temperature < 0 || !temperature.isFinite { throw ValidationError("--temperature must be 0 or more") }
        if topK < 0 { throw ValidationError("--top-k must be 0 or more") }
        if !(topP > 0 && topP <= 1) { throw ValidationError("--top-p must be in (0, 1]") }
        if !(minP >= 0 && minP < 1) { throw ValidationError("--min-p must be in [0, 1)") }
        if !(repeatPenalty > 0) { throw ValidationError("--repeat-penalty must be above 0") }
        if maxTokens < 1 { throw ValidationError("--max-tokens must be at least 1") }
        if prompt.isEmpty { throw ValidationError("the prompt is empty") }
    }

    func run() async throws {
        let (_, model) = try engine.loadModel()
        let session = try InferenceSession(model: model, contextLength: 2048, threads: engine.threads)
        let sampling = SamplingOptions(temperature: temperature, topK: topK, topP: topP, minP: minP,
                                       repetitionPenalty: repeatPenalty, seed: seed)
        let options = GenerationOptions(maxTokens: maxTokens, sampling: sampling, stopStrings: stop)
        let input: Prompt = raw ? .text(prompt) : .chat(system: system, user: prompt)
        var result: GenerationResult?
        for try await event in session.stream(input, options: options) {
            switch event {
            case let .token(_, text):
                FileHandle.standardOutput.write(Data(text.utf8))
            case let .finished(r):
                result = r
            }
        }
        FileHandle.standardOutput.write(Data("\n".utf8))
        if timing, let r = result {
            let promptRate = r.promptSeconds > 0 ? Double(r.promptTokenCount - r.reusedPromptTokenCount) / r.promptSeconds : 0
            let lines = [
                "load: \(format(model.loadSeconds * 1000)) ms",
                "prompt: \(r.promptTokenCount) tokens in \(format(r.promptSeconds * 1000)) ms (\(format(promptRate)) tok/s)",
                "generation: \(r.tokens.count) tokens in \(format(r.generationSeconds * 1000)) ms (\(format(r.tokensPerSecond)) tok/s), finish: \(r.finishReason)",
                "threads: \(session.threadCount), kernels: \(Kernels.path), peak RSS: \(peakResidentMiB()) MiB",
            ]
            FileHandle.standardError.write(Data((lines.joined(separator: "\n") + "\n").utf8))
        }
    }
}
