import Foundation
import MicroLM
import Testing

@Suite("GGUF reader on the default model")
struct GGUFModelTests {
    @Test(.enabled(if: TestResources.modelPath != nil, TestResources.modelMissing))
    func readsHeaderOfDefaultModel() throws {
        let file = try #require(TestResources.model)
        #expect(file.version == 3)
        #expect(file.architecture == "llama")
        #expect(file.int("llama.block_count") == 30)
        #expect(file.int("llama.embedding_length") == 576)
        #expect(file.int("llama.feed_forward_length") == 1536)
        #expect(file.int("llama.attention.head_count") == 9)
        #expect(file.int("llama.attention.head_count_kv") == 3)
        #expect(file.float("llama.rope.freq_base") == 100_000)
        #expect(file.string("tokenizer.ggml.model") == "gpt2")
        #expect(file.string("tokenizer.ggml.pre") == "smollm")
        #expect(file.stringArray("tokenizer.ggml.tokens")?.count == 49152)
        #expect(file.intArray("tokenizer.ggml.token_type")?.count == 49152)
        #expect(file.metadataKeys.count == file.metadata.count)
    }

    @Test(.enabled(if: TestResources.modelPath != nil, TestResources.modelMissing))
    func tensorDirectoryMatchesTheDesign() throws {
        let file = try #require(TestResources.model)
        // 30 blocks × 9 tensors, token embedding, output norm (the output matrix is tied).
        #expect(file.tensors.count == 30 * 9 + 2)
        let embedding = try #require(file.tensor(named: "token_embd.weight"))
        #expect(embedding.type == .q8_0)
        #expect(embedding.dimensions == [576, 49152])
        #expect(embedding.byteCount == 576 * 49152 / 32 * 34)
        let norm = try #require(file.tensor(named: "output_norm.weight"))
        #expect(norm.type == .f32)
        #expect(norm.dimensions == [576])
        let q = try #require(file.tensor(named: "blk.0.attn_q.weight"))
        #expect(q.type == .q4_1)
        #expect(q.dimensions == [576, 576])
        let k = try #require(file.tensor(named: "blk.29.attn_k.weight"))
        #expect(k.dimensions == [576, 192])
        let up = try #require(file.tensor(named: "blk.3.ffn_up.weight"))
        #expect(up.dimensions == [576, 1536])
        #expect(file.tensor(named: "no.such.tensor") == nil)

        // Tensors lie in the data section, aligned, inside the file, without overlapping.
        let sorted = file.tensors.sorted { $0.offset < $1.offset }
        var end = file.dataOffset
        for tensor in sorted {
            #expect(tensor.offset >= end, "\(tensor.name) overlaps its predecessor")
            #expect((tensor.offset - file.dataOffset) % file.alignment == 0)
            #expect(file.bytes(of: tensor).count == tensor.byteCount)
            end = tensor.offset + tensor.byteCount
        }
        #expect(end <= file.fileSize)
    }

    @Test(.enabled(if: TestResources.modelPath != nil, TestResources.modelMissing))
    func normWeightsReadAsFloats() throws {
        let file = try #require(TestResources.model)
        let norm = try #require(file.tensor(named: "blk.0.attn_norm.weight"))
        let values = file.bytes(of: norm).bindMemory(to: Float.self)
        #expect(values.count == 576)
        #expect(values.allSatisfy { $0.isFinite })
        #expect(values.contains { $0 != 0 })
    }
}
