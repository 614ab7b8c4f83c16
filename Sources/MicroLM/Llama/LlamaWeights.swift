/// A weight matrix inside the mapped file: `rows` rows (one per output) of `columns`
/// elements (one per input), each row `rowSize` bytes of `type`. GGUF lists the
/// dimensions as (columns, rows).
public struct WeightMatrix: @unchecked Sendable {
    public let name: String
    public let type: GGMLType
    public let rows: Int
    public let columns: Int
    let rowSize: Int
    let data: UnsafeRawPointer

    init(file: GGUFFile, name: String, rows: Int, columns: Int) throws {
        guard let info = file.tensor(named: name) else { throw MicroLMError.badTensor(name: name, reason: "missing") }
        guard info.dimensions.count == 2, info.dimensions[0] == columns, info.dimensions[1] == rows else {
            throw MicroLMError.badTensor(name: name, reason: "shape \(info.dimensions), expected [\(columns), \(rows)]")
        }
        guard TensorFormat.isSupported(info.type), let rowSize = TensorFormat.rowSize(info.type, count: columns) else {
            throw MicroLMError.badTensor(name: name, reason: "type \(info.type) with \(columns) columns is not supported")
        }
        let bytes = file.bytes(of: info)
        guard let base = bytes.baseAddress, bytes.count >= rowSize * rows else {
            throw MicroLMError.badTensor(name: name, reason: "data shorter than its shape")
        }
        self.name = name
        self.type = info.type
        self.rows = rows
        self.columns = columns
        self.rowSize = rowSize
        self.data = base
    }

    /// Dequantizes row `row` into `destination` (`columns` floats).
    func dequantizeRow(_ row: Int, into destination: UnsafeMutablePointer<Float>) {
        TensorFormat.dequantizeRow(type, data + row * rowSize, count: columns, into: destination)
    }
}

/// The weights of one transformer block.
struct LlamaLayer {
    let attentionNorm: UnsafeMutablePointer<Float>  // [dim]
    let wq: WeightMatrix  // [dim rows][dim columns]: query = wq · x
    let wk: WeightMatrix  // [kvDim][dim]
    let wv: WeightMatrix  // [kvDim][dim]
    let wo: WeightMatrix  // [dim][dim]: attention output projection
    let ffnNorm: UnsafeMutablePointer<Float>  // [dim]
    let gate: WeightMatrix  // [ffn][dim] (w1)
    let up: WeightMatrix  // [ffn][dim] (w3)
    let down: WeightMatrix  // [dim][ffn] (w2)
}

/// All weights of a llama-family model: pointers into the mapped GGUF file (zero-copy),
/// plus the norm vectors as floats (copied, a few KiB).
public final class LlamaWeights: @unchecked Sendable {
    /// Keeps the mapping alive.
    let file: GGUFFile
    let tokenEmbedding: WeightMatrix  // [vocab][dim]
    let layers: [LlamaLayer]
    let outputNorm: UnsafeMutablePointer<Float>  // [dim]
    let output: WeightMatrix  // [vocab][dim]; the token embedding when the file ties them
    private var owned: [UnsafeMutablePointer<Float>] = []

    /// Whether the output matrix is the token embedding (tied weights).
    public var tiedOutput: Bool { output.name == tokenEmbedding.name }

    init(file: GGUFFile, config c: LlamaConfig) throws {
        self.file = file
        let dim = c.embeddingLength, kv = c.kvDimension, ffn = c.feedForwardLength
        tokenEmbedding = try WeightMatrix(file: file, name: "token_embd.weight", rows: c.vocabularySize, columns: dim)
        output = file.tensor(named: "output.weight") != nil
            ? try WeightMatrix(file: file, name: "output.weight", rows: c.vocabularySize, columns: dim)
            : tokenEmbedding
        var owned: [UnsafeMutablePointer<Float>] = []
        func vector(_ name: String) throws -> UnsafeMutablePointer<Float> {
            guard let info = file.tensor(named: name) else { throw MicroLMError.badTensor(name: name, reason: "missing") }
            guard info.elementCount == dim, info.type == .f32 || info.type == .f16 else {
                throw MicroLMError.badTensor(name: name, reason: "expected \(dim) f32/f16 values, found \(info.elementCount) \(info.type)")
            }
            let bytes = file.bytes(of: info)
            guard let base = bytes.baseAddress, bytes.count >= dim * (info.type == .f32 ? 4 : 2) else {
                throw MicroLMError.badTensor(name: name, reason: "data shorter than its shape")
            }
            let p = UnsafeMutablePointer<Float>.allocate(capacity: dim)
            TensorFormat.dequantizeRow(info.type, base, count: dim, into: p)
            owned.append(p)
            return p
        }
        do {
            outputNorm = try vector("output_norm.weight")
            var layers: [LlamaLayer] = []
            for i in 0..<c.blockCount {
                let p = "blk.\(i)."
                layers.append(LlamaLayer(
                    attentionNorm: try vector(p + "attn_norm.weight"),
                    wq: try WeightMatrix(file: file, name: p + "attn_q.weight", rows: dim, columns: dim),
                    wk: try WeightMatrix(file: file, name: p + "attn_k.weight", rows: kv, columns: dim),
                    wv: try WeightMatrix(file: file, name: p + "attn_v.weight", rows: kv, columns: dim),
                    wo: try WeightMatrix(file: file, name: p + "attn_output.weight", rows: dim, columns: dim),
                    ffnNorm: try vector(p + "ffn_norm.weight"),
                    gate: try WeightMatrix(file: file, name: p + "ffn_gate.weight", rows: ffn, columns: dim),
                    up: try WeightMatrix(file: file, name: p + "ffn_up.weight", rows: ffn, columns: dim),
                    down: try WeightMatrix(file: file, name: p + "ffn_down.weight", rows: dim, columns: ffn)))
            }
            self.layers = layers
        } catch {
            owned.forEach { $0.deallocate() }
            throw error
        }
        self.owned = owned
    }

    deinit {
        owned.forEach { $0.deallocate() }
    }
}
