import Foundation
import MicroLM
import Testing

@Suite("SHA-256 and model location")
struct GGUFSHA256Tests {
    static let vectors: [(String, String)] = [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
        ("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
         "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"),
    ]

    @Test(arguments: vectors.indices)
    func knownVectors(_ index: Int) {
        let (message, digest) = Self.vectors[index]
        var hasher = SHA256()
        hasher.update(Array(message.utf8))
        #expect(SHA256.hex(hasher.finalize()) == digest)
    }

    @Test func millionAsInUnevenChunks() {
        let million = [UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)
        var random = SeededRandom(seed: 7)
        var hasher = SHA256()
        var at = 0
        million.withUnsafeBytes { all in
            while at < all.count {
                let n = min(Int.random(in: 0...200, using: &random), all.count - at)
                hasher.update(UnsafeRawBufferPointer(rebasing: all[at..<(at + n)]))
                at += n
            }
        }
        #expect(SHA256.hex(hasher.finalize()) == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func fileDigestMatchesInMemoryDigest() throws {
        let dir = try TempDir()
        var random = SeededRandom(seed: 11)
        let bytes = (0..<(9 << 20) + 13).map { _ in UInt8.random(in: 0...255, using: &random) }  // spans chunks
        let path = dir.file("blob")
        try bytes.write(to: path)
        let expected = bytes.withUnsafeBytes { SHA256.hex(SHA256.hash($0)) }
        #expect(try SHA256.hexDigest(ofFileAt: path) == expected)
        #expect(throws: GGUFError.self) { try SHA256.hexDigest(ofFileAt: dir.file("missing")) }
    }

    @Test(.enabled(if: TestResources.modelPath != nil, TestResources.modelMissing))
    func defaultModelHasThePublishedDigest() throws {
        let path = try #require(TestResources.modelPath)
        #expect(try SHA256.hexDigest(ofFileAt: path) == ModelLocator.defaultSHA256)
    }

    @Test func locatorOrderAndErrors() throws {
        let dir = try TempDir()
        let models = dir.url.appendingPathComponent("models")
        try FileManager.default.createDirectory(at: models, withIntermediateDirectories: true)
        let inCwd = models.appendingPathComponent(ModelLocator.defaultFileName).path
        let other = dir.file("other.gguf")
        try [UInt8](repeating: 0, count: 8).write(to: other)

        var locator = ModelLocator(environmentPath: nil, currentDirectory: dir.url.path)
        #expect(locator.candidates() == [inCwd, "/var/lib/vigil/models/\(ModelLocator.defaultFileName)"])
        if !FileManager.default.fileExists(atPath: "/var/lib/vigil/models/\(ModelLocator.defaultFileName)") {
            let error = try #require(throws: ModelNotFound.self) { try locator.resolve() }
            #expect(error.description.contains(inCwd))
            #expect(error.description.contains("deploy/provision-model.sh"))
        }
        try [UInt8](repeating: 0, count: 8).write(to: inCwd)
        #expect(try locator.resolve() == inCwd)
        #expect(try locator.resolve(explicit: other) == other)

        // An explicit path or $VIGIL_MODEL that is missing is an error, even with a default present.
        #expect(throws: ModelNotFound.self) { try locator.resolve(explicit: dir.file("nope.gguf")) }
        locator.environmentPath = dir.file("env-missing.gguf")
        let envError = try #require(throws: ModelNotFound.self) { try locator.resolve() }
        #expect(envError.description.contains("VIGIL_MODEL"))
        locator.environmentPath = other
        #expect(try locator.resolve() == other)
        // A directory is not a model file.
        #expect(throws: ModelNotFound.self) { try locator.resolve(explicit: models.path) }
    }
}
