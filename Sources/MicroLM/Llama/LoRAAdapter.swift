/// A LoRA adapter in llama.cpp's GGUF format, loaded for one base model: per adapted matrix
/// W (`rows` outputs x `columns` inputs) two small matrices A and B, applied at run time as
/// `y = W x + scale · B (A x)` with `scale = adapter.lora.alpha / rank`. The base file is
/// never modified.
///
/// The file: `general.type = "adapter"`, `adapter.type = "lora"`, `adapter.lora.alpha`, the
/// base model's `general.architecture`, and for each adapted matrix the tensors
/// `<base tensor name>.lora_a` and `.lora_b` (for example `blk.0.attn_q.weight.lora_a`), in
/// F32, F16 or Q8_0. Dimensions in GGUF order (`ne0` first), as llama.cpp checks them:
/// `lora_a` is `[columns, rank]` (rank rows of `columns` elements: A maps the input to the
/// rank), `lora_b` is `[rank, rows]` (`rows` rows of rank elements: B maps the rank to the
/// output). So `ne0(lora_a) == ne0(W)`, `ne1(lora_b) == ne1(W)`, `ne1(lora_a) == ne0(lora_b)`.
///
/// A and B are kept as floats in memory (F16 and Q8_0 dequantized at load, the scale folded
/// into B): a rank-8 adapter of all seven matrices of 16 blocks of SmolLM2-135M is about 5 MB.
public final class LoRAAdapter: @unchecked Sendable {
    /// One adapted matrix: A `[rank][columns]` as in the file, and B transposed, `[rank][rows]`,
    /// already multiplied by the scale (so B (A x) is `rank` contiguous multiply-adds of output rows).
    struct Pair {
        let rank: Int
        let rows: Int
        let columns: Int
        let a: UnsafeMutablePointer<Float>
        let bt: UnsafeMutablePointer<Float>
    }

    /// The pairs of one block, nil for a matrix the adapter leaves as it is.
    struct Layer {
        var q: Pair?, k: Pair?, v: Pair?, o: Pair?
        var gate: Pair?, up: Pair?, down: Pair?
    }

    /// Most rank an adapter may have (also at most the smaller side of its matrix).
    public static let maxRank = 256
    /// The matrices of a block an adapter may cover, by the suffix of their GGUF names.
    public static let adaptableMatrices = ["attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"]

    public let path: String
    /// `adapter.lora.alpha`.
    public let alpha: Float
    /// The largest rank of any pair (the scratch buffers are sized for it).
    public let maxRank: Int
    /// How many matrices it adapts.
    public let matrixCount: Int
    /// The SHA-256 of the file, lowercase hex.
    public let sha256: String
    let layers: [Layer]
    private var owned: [UnsafeMutablePointer<Float>] = []

    /// Reads and checks the adapter at `path` against `config` (the base model's, whose tensor
    /// names and shapes it must match). With `expectedSHA256`, a file with another hash is refused
    /// before anything else is read. Throws `LoRAError` (or `GGUFError` for a malformed file).
    public convenience init(path: String, config: LlamaConfig, architecture: String = "llama",
                            expectedSHA256: String? = nil) throws {
        let file = try GGUFFile.open(path: path)
        try self.init(file: file, config: config, architecture: architecture, expectedSHA256: expectedSHA256)
    }

    init(file: GGUFFile, config c: LlamaConfig, architecture: String, expectedSHA256: String?) throws {
        let path = file.path
        // A pinned file is checked first; otherwise the hash is taken once the file proved to be an
        // adapter (a base model passed by mistake is refused without reading its 100 MB).
        if let expected = expectedSHA256 {
            let found = SHA256.hex(SHA256.hash(file.fileBytes))
            guard expected.lowercased() == found else {
                throw LoRAError.hashMismatch(path: path, expected: expected.lowercased(), found: found)
            }
        }
        func fail(_ reason: String) -> LoRAError { .invalid(path: path, reason: reason) }
        guard let type = file.string("general.type") else {
            throw fail("general.type is missing: not an adapter file (a base model passed as adapter?)")
        }
        guard type == "adapter" else { throw fail("general.type is '\(type)', expected 'adapter' (a base model passed as adapter?)") }
        guard let kind = file.string("adapter.type"), kind == "lora" else {
            throw fail("adapter.type is '\(file.string("adapter.type") ?? "missing")', expected 'lora'")
        }
        guard let arch = file.architecture, arch == architecture else {
            throw fail("architecture '\(file.architecture ?? "missing")' does not match the model's '\(architecture)'")
        }
        guard let alpha = file.float("adapter.lora.alpha"), alpha.isFinite, alpha >= 0, alpha <= 1e6 else {
            throw fail("adapter.lora.alpha is missing or not a finite number in [0, 1e6]")
        }
        guard !file.tensors.isEmpty else { throw fail("the adapter has no tensors") }

        // Shapes of the base matrices: (rows, columns).
        let dim = c.embeddingLength, kv = c.kvDimension, ffn = c.feedForwardLength
        let shapes: [String: (rows: Int, columns: Int)] = [
            "attn_q": (dim, dim), "attn_k": (kv, dim), "attn_v": (kv, dim), "attn_output": (dim, dim),
            "ffn_gate": (ffn, dim), "ffn_up": (ffn, dim), "ffn_down": (dim, ffn),
        ]

        // Every tensor must be half of a pair for a matrix the model has.
        var bases: [String: (layer: Int, matrix: String)] = [:]
        for info in file.tensors {
            let name = info.name
            let base: Substring
            if name.hasSuffix(".lora_a") { base = name.dropLast(7) } else if name.hasSuffix(".lora_b") {
                base = name.dropLast(7)
            } else {
                throw fail("tensor '\(name)' is not a LoRA tensor (<base tensor>.lora_a / .lora_b)")
            }
            let parts = base.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 4, parts[0] == "blk", parts[3] == "weight", let layer = Int(parts[1]),
                  String(layer) == parts[1], layer >= 0, layer < c.blockCount,
                  Self.adaptableMatrices.contains(String(parts[2])) else {
                throw fail("tensor '\(name)': the model has no matrix '\(base)' that an adapter may change")
            }
            bases[String(base)] = (layer, String(parts[2]))
        }

        var layers = [Layer](repeating: Layer(), count: c.blockCount)
        var owned: [UnsafeMutablePointer<Float>] = []
        var maxRank = 0
        do {
            for (base, place) in bases.sorted(by: { $0.key < $1.key }) {
                guard let a = file.tensor(named: base + ".lora_a"), let b = file.tensor(named: base + ".lora_b") else {
                    throw fail("'\(base)' has only one of .lora_a and .lora_b")
                }
                let shape = shapes[place.matrix]!
                guard a.dimensions.count == 2, b.dimensions.count == 2 else {
                    throw fail("'\(base)': lora_a \(a.dimensions) and lora_b \(b.dimensions) must be matrices")
                }
                let rank = a.dimensions[1]
                guard a.dimensions[0] == shape.columns, b.dimensions[1] == shape.rows, b.dimensions[0] == rank else {
                    throw fail("'\(base)': lora_a \(a.dimensions), lora_b \(b.dimensions); expected "
                        + "[\(shape.columns), r] and [r, \(shape.rows)] for the model's [\(shape.columns), \(shape.rows)]")
                }
                guard rank >= 1, rank <= min(Self.maxRank, shape.rows, shape.columns) else {
                    throw fail("'\(base)': rank \(rank) is outside 1...\(min(Self.maxRank, shape.rows, shape.columns))")
                }
                let scale = alpha == 0 ? 1 : alpha / Float(rank)  // llama.cpp: no alpha means scale 1
                let pa = try Self.floats(file, a, count: rank * shape.columns, scale: 1, fail: fail)
                owned.append(pa)
                let pb = try Self.floats(file, b, count: shape.rows * rank, scale: scale, fail: fail)
                defer { pb.deallocate() }
                let bt = UnsafeMutablePointer<Float>.allocate(capacity: rank * shape.rows)
                owned.append(bt)
                for r in 0..<shape.rows {
                    for k in 0..<rank { bt[k * shape.rows + r] = pb[r * rank + k] }
                }
                let pair = Pair(rank: rank, rows: shape.rows, columns: shape.columns, a: pa, bt: bt)
                maxRank = max(maxRank, rank)
                switch place.matrix {
                case "attn_q": layers[place.layer].q = pair
                case "attn_k": layers[place.layer].k = pair
                case "attn_v": layers[place.layer].v = pair
                case "attn_output": layers[place.layer].o = pair
                case "ffn_gate": layers[place.layer].gate = pair
                case "ffn_up": layers[place.layer].up = pair
                default: layers[place.layer].down = pair
                }
            }
        } catch {
            owned.forEach { $0.deallocate() }
            throw error
        }
        self.path = path
        self.sha256 = SHA256.hex(SHA256.hash(file.fileBytes))
        self.alpha = alpha
        self.maxRank = maxRank
        self.matrixCount = bases.count
        self.layers = layers
        self.owned = owned
    }

    deinit {
        owned.forEach { $0.deallocate() }
    }

    /// The tensor's `count` values as floats times `scale`; every one must be finite.
    private static func floats(_ file: GGUFFile, _ info: GGUFTensorInfo, count: Int, scale: Float,
                               fail: (String) -> LoRAError) throws -> UnsafeMutablePointer<Float> {
        guard [GGMLType.f32, .f16, .q8_0].contains(info.type) else {
            throw fail("tensor '\(info.name)' is \(info.type); an adapter's tensors must be F32, F16 or Q8_0")
        }
        let columns = info.dimensions[0], rows = count / max(columns, 1)
        guard let rowSize = TensorFormat.rowSize(info.type, count: columns) else {
            throw fail("tensor '\(info.name)': \(columns) columns do not fill whole \(info.type) blocks")
        }
        let bytes = file.bytes(of: info)
        guard let base = bytes.baseAddress, info.elementCount == count, bytes.count >= rowSize * rows else {
            throw fail("tensor '\(info.name)': data shorter than its shape")
        }
        let p = UnsafeMutablePointer<Float>.allocate(capacity: count)
        for r in 0..<rows { TensorFormat.dequantizeRow(info.type, base + r * rowSize, count: columns, into: p + r * columns) }
        for i in 0..<count {
            guard p[i].isFinite else {
                p.deallocate()
                throw fail("tensor '\(info.name)' holds a non-finite value (NaN or infinity) at element \(i)")
            }
            p[i] *= scale
        }
        return p
    }
}

/// Why an adapter file was refused.
public enum LoRAError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file's SHA-256 is not the pinned one.
    case hashMismatch(path: String, expected: String, found: String)
    /// The file is a well-formed GGUF file but not an adapter this model can use.
    case invalid(path: String, reason: String)

    public var description: String {
        switch self {
        case let .hashMismatch(path, expected, found):
            return "LoRA adapter '\(path)': SHA-256 \(found), expected \(expected) (a wrong or altered file)"
        case let .invalid(path, reason):
            return "LoRA adapter '\(path)': \(reason)"
        }
    }
}
