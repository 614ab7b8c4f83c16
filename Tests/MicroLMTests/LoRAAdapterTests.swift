import Foundation
import MicroLM
import Testing

/// A tiny llama model with F32 weights (2 blocks, width 64, 4 query heads, 2 KV heads, FFN 128,
/// 32 tokens), adapters for it, and the same model with an adapter merged into its weights
/// (W' = W + scale · B · A), the reference the engine's run-time low-rank products must match.
struct TinyLlama: Sendable {
    static let dim = 64, ffn = 128, kvDim = 32, blocks = 2, vocab = 32

    /// (rows, columns) of each adaptable matrix.
    static let shapes: [String: (rows: Int, columns: Int)] = [
        "attn_q": (dim, dim), "attn_k": (kvDim, dim), "attn_v": (kvDim, dim), "attn_output": (dim, dim),
        "ffn_gate": (ffn, dim), "ffn_up": (ffn, dim), "ffn_down": (dim, ffn),
    ]

    /// Every tensor by name, row-major floats ([rows][columns]).
    var weights: [String: [Float]] = [:]

    init(seed: UInt64) {
        var rng = SeededRandom(seed: seed)
        func random(_ n: Int, _ scale: Float) -> [Float] {
            (0..<n).map { _ in Float.random(in: -scale...scale, using: &rng) }
        }
        weights["token_embd.weight"] = random(Self.vocab * Self.dim, 1)
        weights["output_norm.weight"] = random(Self.dim, 0.2).map { $0 + 1 }
        for l in 0..<Self.blocks {
            weights["blk.\(l).attn_norm.weight"] = random(Self.dim, 0.2).map { $0 + 1 }
            weights["blk.\(l).ffn_norm.weight"] = random(Self.dim, 0.2).map { $0 + 1 }
            for (m, s) in Self.shapes { weights["blk.\(l).\(m).weight"] = random(s.rows * s.columns, 0.2) }
        }
    }

    /// The model file; `merging` adds scale · B · A of an adapter to its matrices.
    func file(merging adapter: TinyAdapter? = nil) -> [UInt8] {
        var w = weights
        if let adapter {
            for (base, pair) in adapter.pairs {
                let s = Self.shapes[base.split(separator: ".")[2].description]!
                var m = w[base]!
                for r in 0..<s.rows {
                    for c in 0..<s.columns {
                        var sum = 0.0
                        for k in 0..<pair.rank { sum += Double(pair.b[r * pair.rank + k]) * Double(pair.a[k * s.columns + c]) }
                        m[r * s.columns + c] += Float(Double(adapter.alpha) / Double(pair.rank) * sum)
                    }
                }
                w[base] = m
            }
        }
        var writer = GGUFTestWriter()
        writer.metadata = [
            ("general.architecture", .string("llama")),
            ("llama.block_count", .uint32(UInt32(Self.blocks))),
            ("llama.embedding_length", .uint32(UInt32(Self.dim))),
            ("llama.feed_forward_length", .uint32(UInt32(Self.ffn))),
            ("llama.attention.head_count", .uint32(4)),
            ("llama.attention.head_count_kv", .uint32(2)),
            ("llama.context_length", .uint32(64)),
            ("llama.rope.freq_base", .float32(10000)),
            ("llama.attention.layer_norm_rms_epsilon", .float32(1e-5)),
            ("tokenizer.ggml.model", .string("gpt2")),
            ("tokenizer.ggml.pre", .string("smollm")),
            ("tokenizer.ggml.tokens", .array((0..<Self.vocab).map { .string(String(UnicodeScalar(UInt8(65 + $0)))) })),
            ("tokenizer.ggml.merges", .array([])),
        ]
        writer.tensors = w.keys.sorted().map { name in
            let values = w[name]!
            let dims = values.count == Self.dim ? [Self.dim] : matrixDims(name)
            return GGUFTestWriter.Tensor(name: name, dimensions: dims, type: .f32, data: f32Bytes(values))
        }
        return writer.build()
    }

    private func matrixDims(_ name: String) -> [Int] {
        if name == "token_embd.weight" { return [Self.dim, Self.vocab] }
        let s = Self.shapes[name.split(separator: ".")[2].description]!
        return [s.columns, s.rows]
    }
}

/// An adapter for `TinyLlama`: per base tensor A [rank][columns] and B [rows][rank].
struct TinyAdapter: Sendable {
    struct Pair: Sendable {
        var rank: Int
        var a: [Float]
        var b: [Float]
    }
    var alpha: Float = 8
    var pairs: [String: Pair] = [:]
    var type: GGMLType = .f32
    var metadata: [(String, GGUFValue)] = [
        ("general.architecture", .string("llama")), ("general.type", .string("adapter")),
        ("adapter.type", .string("lora")),
    ]

    /// Random pairs of `rank` for `matrices` in every block (`zeroB`: B all zeros).
    static func random(rank: Int, matrices: [String] = Array(TinyLlama.shapes.keys), blocks: [Int] = [0, 1],
                       zeroB: Bool = false, seed: UInt64 = 7) -> TinyAdapter {
        var rng = SeededRandom(seed: seed)
        var adapter = TinyAdapter()
        for l in blocks {
            for m in matrices.sorted() {
                let s = TinyLlama.shapes[m]!
                let a = (0..<(rank * s.columns)).map { _ in Float.random(in: -0.3...0.3, using: &rng) }
                let b = (0..<(s.rows * rank)).map { _ in zeroB ? 0 : Float.random(in: -0.3...0.3, using: &rng) }
                adapter.pairs["blk.\(l).\(m).weight"] = Pair(rank: rank, a: a, b: b)
            }
        }
        return adapter
    }

    /// The GGUF file, in llama.cpp's layout: lora_a [columns, rank], lora_b [rank, rows].
    func file() -> [UInt8] {
        var writer = GGUFTestWriter()
        writer.metadata = metadata + [("adapter.lora.alpha", .float32(alpha))]
        for (base, pair) in pairs.sorted(by: { $0.key < $1.key }) {
            let columns = pair.a.count / pair.rank, rows = pair.b.count / pair.rank
            writer.tensors.append(.init(name: base + ".lora_a", dimensions: [columns, pair.rank], type: type,
                                        data: encode(pair.a)))
            writer.tensors.append(.init(name: base + ".lora_b", dimensions: [pair.rank, rows], type: type,
                                        data: encode(pair.b)))
        }
        return writer.build()
    }

    private func encode(_ values: [Float]) -> [UInt8] {
        switch type {
        case .f16: return values.flatMap { v -> [UInt8] in
            let h = Float16(v).bitPattern
            return [UInt8(h & 0xFF), UInt8(h >> 8)]
        }
        case .q8_0:
            // d = 1/64 exactly; the values must be multiples of it (see `quantizedToQ8`).
            return stride(from: 0, to: values.count, by: 32).flatMap { start -> [UInt8] in
                [0x00, 0x24] + values[start..<start + 32].map { UInt8(bitPattern: Int8(($0 * 64).rounded())) }
            }
        default: return f32Bytes(values)
        }
    }

    /// The values rounded to what the file's type stores, so the merged reference uses them too.
    mutating func roundToType() {
        for key in pairs.keys {
            for half in [\Pair.a, \Pair.b] {
                pairs[key]![keyPath: half] = pairs[key]![keyPath: half].map { v in
                    switch type {
                    case .f16: return Float(Float16(v))
                    case .q8_0: return (v * 64).rounded() / 64
                    default: return v
                    }
                }
            }
        }
    }
}

func f32Bytes(_ values: [Float]) -> [UInt8] {
    values.flatMap { v -> [UInt8] in withUnsafeBytes(of: v.bitPattern.littleEndian) { Array($0) } }
}

@Suite("LoRA adapters", .serialized)
struct LoRAAdapterTests {
    let tiny = TinyLlama(seed: 11)
    let tokens: [Int32] = [3, 17, 5, 30, 0, 9, 12, 12, 25, 1, 7]

    /// The logits after each token of `tokens`, evaluated in one batch and one at a time.
    func logits(model: String, adapter: String? = nil) throws -> (batch: [Float], single: [[Float]]) {
        let m = try LanguageModel.load(path: model, adapter: adapter)
        let batched = try InferenceSession(model: m, contextLength: 32, threads: 2, batchSize: 64)
        let single = try InferenceSession(model: m, contextLength: 32, threads: 2, batchSize: 1)
        let a = try batched.evaluate(tokens)
        let b = try tokens.map { try single.evaluate([$0]) }
        return (a, b)
    }

    func write(_ bytes: [UInt8], _ dir: TempDir, _ name: String) throws -> String {
        let path = dir.file(name)
        try bytes.write(to: path)
        return path
    }

    @Test("an adapter whose B is zero leaves every logit exactly as the base model's")
    func zeroAdapter() throws {
        let dir = try TempDir()
        let base = try write(tiny.file(), dir, "base.gguf")
        let zero = try write(TinyAdapter.random(rank: 4, zeroB: true).file(), dir, "zero.gguf")
        let plain = try logits(model: base), adapted = try logits(model: base, adapter: zero)
        #expect(plain.batch == adapted.batch)
        #expect(plain.single == adapted.single)
    }

    @Test("run-time low-rank products match the adapter merged into the weights",
          arguments: [GGMLType.f32, .f16, .q8_0])
    func matchesMergedWeights(type: GGMLType) throws {
        let dir = try TempDir()
        // Q8_0 blocks need ne0 (the rank of lora_b) to be a multiple of 32: rank 32 where the matrix allows it.
        var adapter = type == .q8_0
            ? TinyAdapter.random(rank: 32, matrices: ["attn_q", "attn_output", "ffn_up", "ffn_down"], blocks: [1])
            : TinyAdapter.random(rank: 4)
        if type == .f32 { adapter.pairs["blk.1.ffn_gate.weight"] = nil }  // a block with some matrices only
        adapter.type = type
        adapter.roundToType()
        let base = try write(tiny.file(), dir, "base.gguf")
        let merged = try write(tiny.file(merging: adapter), dir, "merged.gguf")
        let lora = try write(adapter.file(), dir, "lora.gguf")
        let expected = try logits(model: merged), found = try logits(model: base, adapter: lora)
        let plain = try logits(model: base)

        // Relative to the logits' size: the two compute the same sums in another order.
        let size = max(1, expected.batch.map(abs).max() ?? 1)
        func maxDiff(_ x: [Float], _ y: [Float]) -> Float { (zip(x, y).map { abs($0 - $1) }.max() ?? .infinity) / size }
        #expect(maxDiff(expected.batch, found.batch) < 1e-3, "batch: max |Δ| \(maxDiff(expected.batch, found.batch))")
        for (e, f) in zip(expected.single, found.single) {
            #expect(maxDiff(e, f) < 1e-3, "single token: max |Δ| \(maxDiff(e, f))")
        }
        #expect(maxDiff(expected.batch, found.single.last!) < 1e-3)
        // ... and the adapter does change the output.
        #expect(maxDiff(plain.batch, found.batch) > 1e-2)
    }

    @Test("the adapter's properties are read from the file")
    func properties() throws {
        let dir = try TempDir()
        var adapter = TinyAdapter.random(rank: 4, matrices: ["attn_q", "attn_v"], blocks: [1])
        adapter.alpha = 2
        let path = try write(adapter.file(), dir, "lora.gguf")
        let base = try LanguageModel.load(path: try write(tiny.file(), dir, "base.gguf"))
        let lora = try LoRAAdapter(path: path, config: base.config)
        #expect(lora.alpha == 2 && lora.maxRank == 4 && lora.matrixCount == 2)
        #expect(lora.sha256 == (try SHA256.hexDigest(ofFileAt: path)))
        #expect(throws: LoRAError.self) {
            try LoRAAdapter(path: path, config: base.config, expectedSHA256: String(repeating: "0", count: 64))
        }
        #expect(try LoRAAdapter(path: path, config: base.config, expectedSHA256: lora.sha256.uppercased()).alpha == 2)
        #expect(base.applying(lora).adapter === lora && base.adapter == nil)
    }

    /// Hostile and wrong files: each is refused with an error that names the problem.
    static let hostile: [(name: String, expect: String, make: @Sendable (TinyLlama) -> [UInt8])] = [
        ("wrong shape of lora_a", "expected", { _ in
            var a = TinyAdapter.random(rank: 4, matrices: ["attn_q"])
            a.pairs["blk.0.attn_q.weight"]!.a = Array(repeating: 0.1, count: 4 * 32)  // [32, 4], not [64, 4]
            return a.file()
        }),
        ("lora_a and lora_b of different ranks", "expected", { _ in
            var a = TinyAdapter.random(rank: 4, matrices: ["ffn_down"])
            a.pairs["blk.0.ffn_down.weight"]!.b = Array(repeating: 0.1, count: 64 * 2)
            return a.file()
        }),
        ("a block the model lacks", "has no matrix", { _ in
            var a = TinyAdapter.random(rank: 4, matrices: ["attn_q"])
            a.pairs["blk.7.attn_q.weight"] = a.pairs["blk.0.attn_q.weight"]
            return a.file()
        }),
        ("a matrix name the model lacks", "has no matrix", { _ in
            var a = TinyAdapter.random(rank: 4, matrices: ["attn_q"])
            a.pairs["blk.0.attn_qkv.weight"] = a.pairs["blk.0.attn_q.weight"]
            return a.file()
        }),
        ("the token embedding", "has no matrix", { _ in
            var a = TinyAdapter.random(rank: 4, matrices: ["attn_q"])
            a.pairs["token_embd.weight"] = a.pairs["blk.0.attn_q.weight"]
            return a.file()
        }),
        ("a tensor that is not a LoRA tensor", "not a LoRA tensor", { _ in
            var w = GGUFTestWriter()
            w.metadata = TinyAdapter().metadata + [("adapter.lora.alpha", .float32(8))]
            w.tensors = [.init(name: "blk.0.attn_q.weight", dimensions: [64, 64], type: .f32)]
            return w.build()
        }),
        ("only lora_a", "only one of", { _ in
            var w = GGUFTestWriter()
            w.metadata = TinyAdapter().metadata + [("adapter.lora.alpha", .float32(8))]
            w.tensors = [.init(name: "blk.0.attn_q.weight.lora_a", dimensions: [64, 4], type: .f32)]
            return w.build()
        }),
        ("a rank above the matrix", "rank 40", { _ in TinyAdapter.random(rank: 40, matrices: ["attn_k"]).file() }),
        ("a huge rank", "runs past the end of the file", { _ in
            // Dimensions of 2^40 elements: refused by the reader before anything is allocated.
            var w = GGUFTestWriter()
            w.metadata = TinyAdapter().metadata + [("adapter.lora.alpha", .float32(8))]
            w.tensors = [.init(name: "blk.0.attn_q.weight.lora_a", dimensions: [64, 1 << 34], type: .f32, data: []),
                         .init(name: "blk.0.attn_q.weight.lora_b", dimensions: [1 << 34, 64], type: .f32, data: [])]
            return w.build()
        }),
        ("a large rank that fits in the file", "rank 512", { _ in
            var a = TinyAdapter.random(rank: 1, matrices: ["ffn_up"])
            a.pairs["blk.0.ffn_up.weight"] = .init(rank: 512, a: Array(repeating: 0, count: 512 * 64),
                                                   b: Array(repeating: 0, count: 128 * 512))
            return a.file()
        }),
        ("a NaN", "non-finite", { _ in
            var a = TinyAdapter.random(rank: 4, matrices: ["attn_v"])
            a.pairs["blk.1.attn_v.weight"]!.b[5] = .nan
            return a.file()
        }),
        ("an infinity in F16", "non-finite", { _ in
            var a = TinyAdapter.random(rank: 4, matrices: ["attn_v"])
            a.type = .f16
            a.pairs["blk.1.attn_v.weight"]!.a[0] = 1e6
            return a.file()
        }),
        ("a quantized type the format does not allow", "must be F32, F16 or Q8_0", { _ in
            var w = GGUFTestWriter()
            w.metadata = TinyAdapter().metadata + [("adapter.lora.alpha", .float32(8))]
            w.tensors = [.init(name: "blk.0.attn_q.weight.lora_a", dimensions: [64, 32], type: .q4_1),
                         .init(name: "blk.0.attn_q.weight.lora_b", dimensions: [32, 64], type: .q4_1)]
            return w.build()
        }),
        ("a truncated file", "runs past the end of the file", { _ in Array(TinyAdapter.random(rank: 4).file().dropLast(100)) }),
        ("a base model passed as adapter", "general.type", { tiny in tiny.file() }),
        ("a model-type file", "general.type is 'model'", { tiny in
            var a = TinyAdapter.random(rank: 4, matrices: ["attn_q"])
            a.metadata[1] = ("general.type", .string("model"))
            return a.file()
        }),
        ("another adapter type", "adapter.type", { _ in
            var a = TinyAdapter.random(rank: 4, matrices: ["attn_q"])
            a.metadata[2] = ("adapter.type", .string("control_vector"))
            return a.file()
        }),
        ("a wrong architecture", "architecture 'gemma'", { _ in
            var a = TinyAdapter.random(rank: 4, matrices: ["attn_q"])
            a.metadata[0] = ("general.architecture", .string("gemma"))
            return a.file()
        }),
        ("a NaN alpha", "alpha", { _ in
            var a = TinyAdapter.random(rank: 4, matrices: ["attn_q"])
            a.alpha = .nan
            return a.file()
        }),
        ("no tensors", "no tensors", { _ in TinyAdapter().file() }),
        ("not a GGUF file", "not a GGUF file", { _ in Array("hello, this is not a model".utf8) }),
    ]

    @Test("hostile adapter files are refused with an error", arguments: hostile.indices)
    func refusesHostileFiles(index: Int) throws {
        let c = Self.hostile[index]
        let dir = try TempDir()
        let base = try write(tiny.file(), dir, "base.gguf")
        let bad = try write(c.make(tiny), dir, "bad.gguf")
        do {
            _ = try LanguageModel.load(path: base, adapter: bad)
            Issue.record("\(c.name): loaded")
        } catch {
            let text = "\(error)"
            #expect(error is LoRAError || error is GGUFError, "\(c.name): \(text)")
            #expect(text.contains(c.expect), "\(c.name): \(text)")
        }
    }

    @Test("the default model passed as its own adapter is refused")
    func realModelAsAdapter() throws {
        guard let model = Engine.model else { return }
        #expect(throws: LoRAError.self) { try LoRAAdapter(path: model.path, config: model.config) }
    }

    @Test("on the default model, a zero adapter changes no logit; a random one changes them")
    func realModel() throws {
        guard let model = Engine.model else { return }
        let dir = try TempDir()
        let c = model.config
        func adapter(zero: Bool) throws -> LoRAAdapter {
            var rng = SeededRandom(seed: 3)
            var w = GGUFTestWriter()
            w.metadata = TinyAdapter().metadata + [("adapter.lora.alpha", .float32(16))]
            for l in [0, c.blockCount - 1] {
                for (m, rows, columns) in [("attn_q", c.embeddingLength, c.embeddingLength),
                                           ("ffn_down", c.embeddingLength, c.feedForwardLength)] {
                    let a = (0..<(8 * columns)).map { _ in Float.random(in: -0.05...0.05, using: &rng) }
                    let b = (0..<(rows * 8)).map { _ in zero ? 0 : Float.random(in: -0.05...0.05, using: &rng) }
                    w.tensors.append(.init(name: "blk.\(l).\(m).weight.lora_a", dimensions: [columns, 8], type: .f32, data: f32Bytes(a)))
                    w.tensors.append(.init(name: "blk.\(l).\(m).weight.lora_b", dimensions: [8, rows], type: .f32, data: f32Bytes(b)))
                }
            }
            let path = dir.file(zero ? "zero.gguf" : "random.gguf")
            try w.build().write(to: path)
            return try LoRAAdapter(path: path, config: c)
        }
        let ids = model.tokens(for: .chat(system: nil, user: "Pump P-101 discharge pressure fell."))
        func run(_ m: LanguageModel) throws -> [Float] {
            try InferenceSession(model: m, contextLength: 256, threads: 2).evaluate(ids)
        }
        let plain = try run(model)
        #expect(try run(model.applying(adapter(zero: true))) == plain)
        let changed = try run(model.applying(adapter(zero: false)))
        #expect(zip(plain, changed).map { abs($0 - $1) }.max()! > 1e-3)
    }
}

@Suite("The provisioned narration adapter")
struct NarrationAdapterTests {
    @Test("loads on the default model with its pinned SHA-256")
    func loadsPinned() throws {
        guard let model = Engine.model else { return }
        let path = TestResources.repoRoot.appendingPathComponent(ModelLocator.narrationAdapterPath).path
        guard FileManager.default.fileExists(atPath: path) else {
            print("skipped: no narration adapter at \(path) (deploy/provision-adapter.sh trains it)")
            return
        }
        let adapter = try LoRAAdapter(path: path, config: model.config, expectedSHA256: ModelLocator.narrationAdapterSHA256)
        #expect(adapter.maxRank <= 16 && adapter.matrixCount > 0)
        let size = try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int ?? .max
        #expect(size <= 8 << 20, "adapter is \(size) bytes")
    }
}
