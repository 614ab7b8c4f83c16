import Foundation
import MicroLM
import Testing

@Suite("GGUF reader on files written by the test")
struct GGUFReaderTests {
    @Test func readsEveryValueTypeAndTensor() throws {
        let dir = try TempDir()
        var writer = GGUFTestWriter.sample()
        let path = dir.file("sample.gguf")
        try writer.build().write(to: path)
        let file = try GGUFFile.open(path: path)

        #expect(file.version == 3)
        #expect(file.metadataKeys == writer.metadata.map(\.0))
        for (key, value) in writer.metadata {
            #expect(file.metadata[key] == value, "\(key)")
        }
        #expect(file.int("test.u8") == 200)
        #expect(file.int("test.i64") == -(1 << 40))
        #expect(file.double("test.f64") == -2.25)
        #expect(file.float("test.f32") == 0.5)
        #expect(file.bool("test.bool") == true)
        #expect(file.string("general.architecture") == "llama")
        #expect(file.stringArray("tokenizer.ggml.tokens") == ["a", "b", "ab", "Ġ", "<s>"])
        #expect(file.floatArray("tokenizer.ggml.scores") == [0, -1, -2.5])
        #expect(file.intArray("tokenizer.ggml.tokens") == nil)
        #expect(file.string("test.u8") == nil)
        #expect(file.int("missing") == nil)

        #expect(file.tensors.map(\.name) == writer.tensors.map(\.name))
        let q = try #require(file.tensor(named: "blk.0.attn_q.weight"))
        #expect(q.type == .q4_1)
        #expect(q.dimensions == [64, 64])
        #expect(q.elementCount == 4096)
        #expect(q.byteCount == 4096 / 32 * 20)
        #expect(q.offset % 32 == 0)
        let bytes = file.bytes(of: q)
        #expect(bytes.count == q.byteCount)
        // The data is the writer's pattern for tensor index 2.
        #expect(bytes[5] == UInt8(truncatingIfNeeded: 5 &* 31 &+ 2))
        let k = try #require(file.tensor(named: "blk.0.ffn_down.weight"))
        #expect(k.byteCount == 2 * 210)
        let half = try #require(file.tensor(named: "half"))
        #expect(half.dimensions == [3, 2, 2, 1])
        #expect(half.byteCount == 24)
    }

    @Test func readsVersion2AndOtherAlignments() throws {
        let dir = try TempDir()
        var writer = GGUFTestWriter.sample()
        writer.version = 2
        writer.alignment = 64
        writer.metadata[1] = ("general.alignment", .uint32(64))
        let path = dir.file("v2.gguf")
        try writer.build().write(to: path)
        let file = try GGUFFile.open(path: path)
        #expect(file.version == 2)
        #expect(file.alignment == 64)
        #expect(file.dataOffset % 64 == 0)
        #expect(file.tensors.allSatisfy { ($0.offset - file.dataOffset) % 64 == 0 })
    }

    @Test func headerWithoutTensorsOpens() throws {
        let dir = try TempDir()
        var writer = GGUFTestWriter()
        writer.metadata = [("general.name", .string("empty"))]
        let path = dir.file("empty.gguf")
        try writer.build().write(to: path)
        let file = try GGUFFile.open(path: path)
        #expect(file.tensors.isEmpty)
        #expect(file.string("general.name") == "empty")
    }

    // MARK: Specific refusals

    private func openError(_ bytes: [UInt8]) throws -> GGUFError? {
        let dir = try TempDir()
        let path = dir.file("bad.gguf")
        try bytes.write(to: path)
        do {
            _ = try GGUFFile.open(path: path)
            return nil
        } catch let error as GGUFError {
            return error
        }
    }

    private func overwrite(_ bytes: inout [UInt8], at offset: Int, width: Int, with value: UInt64) {
        for i in 0..<width { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(i))) }
    }

    @Test func refusesBadMagicAndVersion() throws {
        var writer = GGUFTestWriter.sample()
        var bytes = writer.build()
        bytes[0] = UInt8(ascii: "X")
        #expect(try openError(bytes) == .badMagic(found: 0x4655_4758))

        bytes = writer.build()
        overwrite(&bytes, at: 4, width: 4, with: 1)
        #expect(try openError(bytes) == .unsupportedVersion(1))
        overwrite(&bytes, at: 4, width: 4, with: UInt64(UInt32(3).byteSwapped))
        let error = try #require(try openError(bytes))
        #expect(error.description.contains("big-endian"))
    }

    @Test func refusesHugeCountsBeforeAllocating() throws {
        var writer = GGUFTestWriter.sample()
        var bytes = writer.build()
        overwrite(&bytes, at: 8, width: 8, with: UInt64.max)
        guard case .limitExceeded(let what, _, _, let offset)? = try openError(bytes) else {
            Issue.record("expected limitExceeded"); return
        }
        #expect(what.contains("tensor count") && offset == 8)

        bytes = writer.build()
        overwrite(&bytes, at: 16, width: 8, with: 1 << 40)
        guard case .limitExceeded(let what2, _, _, _)? = try openError(bytes) else {
            Issue.record("expected limitExceeded"); return
        }
        #expect(what2.contains("metadata count"))

        // The vocabulary array's length.
        bytes = writer.build()
        let arrayCounts = writer.fields.filter { $0.kind == .count }.dropFirst(2)
        let first = try #require(arrayCounts.first)
        overwrite(&bytes, at: first.offset, width: 8, with: UInt64(Int64.max))
        guard case .limitExceeded(let what3, _, _, _)? = try openError(bytes) else {
            Issue.record("expected limitExceeded"); return
        }
        #expect(what3.contains("tokenizer.ggml.tokens"))
    }

    @Test func refusesUnknownTensorTypeNamingTheTensor() throws {
        var writer = GGUFTestWriter.sample()
        var bytes = writer.build()
        let typeField = try #require(writer.fields.first { $0.kind == .tensorType })
        overwrite(&bytes, at: typeField.offset, width: 4, with: 4)  // q4_2, retired
        #expect(try openError(bytes) == .unsupportedTensorType(name: "token_embd.weight", id: 4))
    }

    @Test func refusesTensorDataOutsideTheFile() throws {
        var writer = GGUFTestWriter.sample()
        var bytes = writer.build()
        let offsetField = try #require(writer.fields.last { $0.kind == .tensorOffset })
        overwrite(&bytes, at: offsetField.offset, width: 8, with: UInt64(bytes.count))
        guard case .invalidTensor(let name, let reason)? = try openError(bytes) else {
            Issue.record("expected invalidTensor"); return
        }
        #expect(name == "half")
        #expect(reason.contains("past the end"))

        bytes = writer.build()
        overwrite(&bytes, at: offsetField.offset, width: 8, with: 33)
        guard case .invalidTensor(_, let reason2)? = try openError(bytes) else {
            Issue.record("expected invalidTensor"); return
        }
        #expect(reason2.contains("alignment"))
    }

    @Test func refusesBadValueTypeAndBadAlignment() throws {
        var writer = GGUFTestWriter.sample()
        var bytes = writer.build()
        let typeField = try #require(writer.fields.first { $0.kind == .valueType })
        overwrite(&bytes, at: typeField.offset, width: 4, with: 13)
        #expect(try openError(bytes) == .invalidValueType(key: "general.architecture", type: 13, offset: typeField.offset + 4))

        writer.metadata[1] = ("general.alignment", .uint32(24))
        let error = try #require(try openError(writer.build()))
        guard case .invalidValue(let key, _, _) = error else { Issue.record("\(error)"); return }
        #expect(key == "general.alignment")
    }

    @Test func refusesDuplicates() throws {
        var writer = GGUFTestWriter.sample()
        writer.metadata.append(("test.u8", .uint8(1)))
        guard case .duplicateKey("test.u8", _)? = try openError(writer.build()) else {
            Issue.record("expected duplicateKey"); return
        }
        writer = GGUFTestWriter.sample()
        writer.tensors.append(writer.tensors[1])
        guard case .duplicateTensor("output_norm.weight", _)? = try openError(writer.build()) else {
            Issue.record("expected duplicateTensor"); return
        }
    }

    @Test func refusesBadShapes() throws {
        var writer = GGUFTestWriter.sample()
        writer.tensors = [GGUFTestWriter.Tensor(name: "odd", dimensions: [48, 2], type: .q4_0)]
        var bytes = writer.build()
        // The writer sized the data for 48 × 2 elements; ggml needs whole blocks per row.
        guard case .invalidTensor("odd", let reason)? = try openError(bytes) else {
            Issue.record("expected invalidTensor"); return
        }
        #expect(reason.contains("block size"))

        writer = GGUFTestWriter.sample()
        bytes = writer.build()
        let dimCount = try #require(writer.fields.first { $0.kind == .dimensionCount })
        overwrite(&bytes, at: dimCount.offset, width: 4, with: 5)
        guard case .limitExceeded(let what, 5, 4, _)? = try openError(bytes) else {
            Issue.record("expected limitExceeded"); return
        }
        #expect(what.contains("token_embd.weight"))

        bytes = writer.build()
        let dims = writer.fields.filter { $0.kind == .dimension }
        overwrite(&bytes, at: dims[0].offset, width: 8, with: 1 << 32)
        overwrite(&bytes, at: dims[1].offset, width: 8, with: 1 << 32)
        guard case .invalidTensor("token_embd.weight", let overflow)? = try openError(bytes) else {
            Issue.record("expected invalidTensor"); return
        }
        #expect(overflow.contains("overflows"))
    }

    @Test func refusesWhatIsNotARegularFile() throws {
        let dir = try TempDir()
        #expect(throws: GGUFError.self) { try GGUFFile.open(path: dir.url.path) }
        #expect(throws: GGUFError.self) { try GGUFFile.open(path: dir.file("missing.gguf")) }
        let fifo = dir.file("fifo")
        #expect(mkfifo(fifo, 0o600) == 0)
        #expect(throws: GGUFError.self) { try GGUFFile.open(path: fifo) }
    }

    @Test func everyTruncationOfASmallFileThrows() throws {
        let dir = try TempDir()
        var writer = GGUFTestWriter.sample()
        let bytes = writer.build()
        let path = dir.file("cut.gguf")
        // The last tensor's data ends before the final padding; anything shorter must be refused.
        var lastNeeded = 0
        do {
            try bytes.write(to: path)
            let file = try GGUFFile.open(path: path)
            lastNeeded = file.tensors.map { $0.offset + $0.byteCount }.max() ?? 0
        }
        for length in 0..<lastNeeded {
            try Array(bytes.prefix(length)).write(to: path)
            #expect(throws: GGUFError.self, "length \(length)") { try GGUFFile.open(path: path) }
        }
    }
}

@Suite("GGUF required values")
struct GGUFRequiredValueTests {
    @Test func requiredValuesThrowNamingTheKey() throws {
        let dir = try TempDir()
        var writer = GGUFTestWriter.sample()
        let path = dir.file("sample.gguf")
        try writer.build().write(to: path)
        let file = try GGUFFile.open(path: path)
        #expect(try file.requiredInt("llama.block_count") == 2)
        #expect(try file.requiredFloat("test.f32") == 0.5)
        #expect(try file.requiredString("general.architecture") == "llama")
        #expect(try file.requiredTensor(named: "half").type == .f16)
        #expect(throws: GGUFError.missingTensor("blk.9.attn_q.weight")) { try file.requiredTensor(named: "blk.9.attn_q.weight") }
        #expect(throws: GGUFError.missingMetadata(key: "general.architecture", expected: "an integer")) {
            try file.requiredInt("general.architecture")
        }
        #expect(file.archKey("block_count") == "llama.block_count")
    }

    @Test func overlongStringInAnArrayIsALimitNotATruncation() throws {
        var writer = GGUFTestWriter.sample()
        var bytes = writer.build()
        // The length field of the first vocabulary string follows the array's element type and count.
        let countField = try #require(writer.fields.filter { $0.kind == .count }.dropFirst(2).first)
        let firstLength = countField.offset + 8
        for i in 0..<8 { bytes[firstLength + i] = UInt8(truncatingIfNeeded: UInt64(1 << 30) >> (8 * UInt64(i))) }
        let dir = try TempDir()
        try bytes.write(to: dir.file("long.gguf"))
        do {
            _ = try GGUFFile.open(path: dir.file("long.gguf"))
            Issue.record("opened")
        } catch let error as GGUFError {
            guard case .limitExceeded(let what, _, _, let offset) = error else { Issue.record("\(error)"); return }
            #expect(what.contains("element 0 of 'tokenizer.ggml.tokens'"))
            #expect(offset == firstLength)
        }
    }
}
