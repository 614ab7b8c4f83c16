import Foundation
import MicroLM
import Testing

/// Hostile files: every one must either open (with tensors inside the file) or throw `GGUFError`.
@Suite("GGUF reader fuzzing")
struct GGUFFuzzTests {
    /// Opens the bytes; returns whether they opened. A crash or hang fails the whole run.
    private func openOrThrow(_ bytes: [UInt8], at path: String) throws -> Bool {
        try bytes.write(to: path)
        do {
            let file = try GGUFFile.open(path: path)
            for tensor in file.tensors {
                let view = file.bytes(of: tensor)
                #expect(view.count == tensor.byteCount)
                #expect(tensor.offset + tensor.byteCount <= bytes.count)
                _ = view.last  // touch the last byte: it must be mapped
            }
            return true
        } catch is GGUFError {
            return false
        }
    }

    private static let interesting: [UInt64] = [
        0, 1, 2, 3, 4, 7, 8, 12, 13, 31, 32, 33, 255, 256, 0xFFFF, 0x1_0000, 0x7FFF_FFFF, 0xFFFF_FFFF,
        0x1_0000_0000, 1 << 40, UInt64(Int64.max), UInt64(Int64.max) + 1, UInt64.max - 1, UInt64.max,
    ]

    @Test func fieldOverwritesNeverCrash() throws {
        let dir = try TempDir()
        let path = dir.file("fuzz.gguf")
        var writer = GGUFTestWriter.sample()
        let original = writer.build()
        let fields = writer.fields
        var random = SeededRandom(seed: 0x5EED_0001)
        var opened = 0
        let iterations = 3000
        for _ in 0..<iterations {
            var bytes = original
            for _ in 0..<Int.random(in: 1...2, using: &random) {
                let field = fields.randomElement(using: &random)!
                let value = Bool.random(using: &random)
                    ? Self.interesting.randomElement(using: &random)!
                    : UInt64.random(in: 0...UInt64.max, using: &random) >> UInt64.random(in: 0...63, using: &random)
                for i in 0..<field.width {
                    bytes[field.offset + i] = UInt8(truncatingIfNeeded: value >> (8 * UInt64(i)))
                }
            }
            if try openOrThrow(bytes, at: path) { opened += 1 }
        }
        // Some overwrites are harmless (same value, a count made smaller...), most must be refused.
        #expect(opened < iterations)
    }

    @Test func byteFlipsAndTruncationsNeverCrash() throws {
        let dir = try TempDir()
        let path = dir.file("fuzz.gguf")
        var writer = GGUFTestWriter.sample()
        let original = writer.build()
        var random = SeededRandom(seed: 0x5EED_0002)
        for _ in 0..<3000 {
            var bytes = original
            switch Int.random(in: 0..<4, using: &random) {
            case 0:  // flip bits in the header region
                for _ in 0..<Int.random(in: 1...4, using: &random) {
                    let at = Int.random(in: 0..<min(bytes.count, 700), using: &random)
                    bytes[at] ^= UInt8.random(in: 1...255, using: &random)
                }
            case 1:  // random bytes anywhere
                let at = Int.random(in: 0..<bytes.count, using: &random)
                bytes[at] = UInt8.random(in: 0...255, using: &random)
            case 2:  // truncate
                bytes = Array(bytes.prefix(Int.random(in: 0..<bytes.count, using: &random)))
            default:  // insert or delete a few bytes in the header, shifting everything after
                let at = Int.random(in: 0..<min(bytes.count, 700), using: &random)
                if Bool.random(using: &random) {
                    bytes.insert(contentsOf: (0..<Int.random(in: 1...9, using: &random)).map { _ in UInt8.random(in: 0...255, using: &random) }, at: at)
                } else {
                    bytes.removeSubrange(at..<min(bytes.count, at + Int.random(in: 1...9, using: &random)))
                }
            }
            _ = try openOrThrow(bytes, at: path)
        }
    }

    @Test(.enabled(if: TestResources.modelPath != nil, TestResources.modelMissing))
    func truncatedCopiesOfTheRealModelThrow() throws {
        let model = try #require(TestResources.model)
        let dir = try TempDir()
        let path = dir.file("cut.gguf")
        let whole = model.fileBytes
        var random = SeededRandom(seed: 0x5EED_0003)
        // Cuts inside the header (metadata, vocabulary, merges, tensor directory) and just past it.
        var lengths = [0, 3, 4, 7, 8, 15, 16, 23, 24, 100, model.dataOffset - 1, model.dataOffset, model.dataOffset + 1]
        for _ in 0..<40 { lengths.append(Int.random(in: 0..<model.dataOffset, using: &random)) }
        for length in lengths {
            try Array(UnsafeRawBufferPointer(rebasing: whole[0..<length])).write(to: path)
            #expect(throws: GGUFError.self, "cut at \(length)") { try GGUFFile.open(path: path) }
        }
    }
}
