import Foundation
import ModelBundle
import Testing
import VigilTestSupport

/// A small bundle on disk signed with a fresh key: the files are a few bytes (the verifier checks
/// sizes, hashes and the signature, not what a model file holds).
struct BundleFixture {
    let dir: TemporaryDirectory
    let key = BundleSigningKey.generate()
    var bundle: String { dir.path + "/bundle" }

    init(name: String = "test-model", version: String = "1.0.0", expiresAt: String? = nil,
         files: [(BundleManifest.Role, String, String)] = [(.model, "model.gguf", "GGUF fake model bytes"),
                                                           (.selfTestEvents, "events.jsonl", "{}\n"),
                                                           (.selfTestCatalog, "catalog.yaml", "site: x\n")]) throws {
        dir = try TemporaryDirectory(prefix: "vigil-bundle")
        try FileManager.default.createDirectory(atPath: dir.path + "/src", withIntermediateDirectories: true)
        var sources: [(role: BundleManifest.Role, source: String)] = []
        for (role, name, content) in files {
            let path = dir.path + "/src/" + name
            try content.write(toFile: path, atomically: true, encoding: .utf8)
            sources.append((role, path))
        }
        _ = try BundleWriter.pack(into: dir.path + "/bundle", name: name, version: version, minVigilVersion: "0.1.0",
                                  files: sources, minModelShare: 0.5, expiresAt: expiresAt)
        _ = try BundleWriter.sign(directory: bundle, key: key)
    }

    func verify(keys: [BundlePublicKey]? = nil, cache: HashCache? = nil, at directory: String? = nil) throws -> VerifiedBundle {
        try BundleVerifier.verify(directory: directory ?? bundle, trustedKeys: keys ?? [key.publicKey], vigilVersion: "0.1.0", cache: cache)
    }

    /// Rewrites manifest.json with `edit` applied to its text, keeping the old signature.
    func editManifest(_ edit: (String) -> String) throws {
        let path = bundle + "/manifest.json"
        try edit(try String(contentsOfFile: path, encoding: .utf8)).write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// Re-signs manifest.json through `vigil model sign`'s path (which parses it first).
    func resign() throws { _ = try BundleWriter.sign(directory: bundle, key: key) }

    /// Signs whatever bytes manifest.json now holds, unchecked: a hostile manifest signed by a
    /// trusted key.
    func forceSign() throws {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: bundle + "/manifest.json")))
        let signature = BundleSignature(keyID: key.publicKey.id, signature: try key.sign(bytes))
        try Data(signature.jsonBytes()).write(to: URL(fileURLWithPath: bundle + "/manifest.sig"))
    }
}

func refusal(_ body: () throws -> Void) -> BundleError.Reason? {
    do { try body(); return nil } catch let e as BundleError { return e.reason } catch { return .io }
}

@Suite struct BundleVerifierTests {
    @Test func aGoodBundleVerifiesAndNamesItsKey() throws {
        let f = try BundleFixture()
        let b = try f.verify()
        #expect(b.manifest.id == "test-model-1.0.0")
        #expect(b.key == f.key.publicKey)
        #expect(b.hashedFiles == 3)
        #expect(b.modelPath == f.bundle + "/model.gguf")
    }

    @Test func aChangedFileIsRefused() throws {
        let f = try BundleFixture()
        // Same size, one byte different.
        try "GGUF fake model bytez".write(toFile: f.bundle + "/model.gguf", atomically: false, encoding: .utf8)
        #expect(refusal { _ = try f.verify() } == .hashMismatch)
        try "GGUF fake".write(toFile: f.bundle + "/model.gguf", atomically: false, encoding: .utf8)
        #expect(refusal { _ = try f.verify() } == .sizeMismatch)
        try FileManager.default.removeItem(atPath: f.bundle + "/model.gguf")
        #expect(refusal { _ = try f.verify() } == .missingFile)
    }

    @Test func anotherKeyOrAnEditedManifestIsRefused() throws {
        let f = try BundleFixture()
        #expect(refusal { _ = try f.verify(keys: [BundleSigningKey.generate().publicKey]) } == .untrustedKey)
        #expect(refusal { _ = try f.verify(keys: []) } == .untrustedKey)
        try f.editManifest { $0.replacingOccurrences(of: "\"min_model_share\" : 0.5", with: "\"min_model_share\" : 0") }
        #expect(refusal { _ = try f.verify() } == .badSignature)
    }

    @Test func aMissingExpiredOrDamagedSignatureIsRefused() throws {
        let f = try BundleFixture()
        try FileManager.default.removeItem(atPath: f.bundle + "/manifest.sig")
        #expect(refusal { _ = try f.verify() } == .missingSignature)
        try "{\"algorithm\":\"ed25519\",\"key_id\":\"00".write(toFile: f.bundle + "/manifest.sig", atomically: true, encoding: .utf8)
        #expect(refusal { _ = try f.verify() } == .badSignature)

        let expired = try BundleFixture(expiresAt: "2020-01-01T00:00:00Z")
        #expect(refusal { _ = try expired.verify() } == .badSignature)
        let valid = try BundleFixture(expiresAt: "2999-01-01T00:00:00Z")
        #expect(refusal { _ = try valid.verify() } == nil)
    }

    @Test(arguments: ["../../etc/passwd", "sub/model.gguf", ".hidden", "..", "mo\\\\del", "m\\u0000odel", ""])
    func pathTraversalInAFileNameIsRefusedEvenWhenSigned(_ name: String) throws {
        let f = try BundleFixture()
        try f.editManifest { $0.replacingOccurrences(of: "\"path\" : \"model.gguf\"", with: "\"path\" : \"\(name)\"") }
        // `vigil model sign` will not sign it, and a manifest signed anyway is refused.
        #expect(refusal { try f.resign() } == .unsafePath)
        try f.forceSign()
        #expect(refusal { _ = try f.verify() } == .unsafePath)
    }

    @Test func truncatedHugeAndMalformedManifestsAreRefused() throws {
        let f = try BundleFixture()
        let path = f.bundle + "/manifest.json"
        let full = try Data(contentsOf: URL(fileURLWithPath: path))
        for cut in [1, full.count / 3, full.count / 2, full.count - 3] {
            try full.prefix(cut).write(to: URL(fileURLWithPath: path))
            #expect(refusal { _ = try BundleManifest.parse([UInt8](full.prefix(cut))) } == .truncated, "cut at \(cut)")
            #expect(refusal { _ = try f.verify() } != nil)
        }
        #expect(refusal { _ = try BundleManifest.parse([]) } == .truncated)
        #expect(refusal { _ = try BundleManifest.parse([UInt8](repeating: 0x20, count: BundleManifest.maxBytes + 1)) } == .tooLarge)
        let huge = String(repeating: "x", count: 5000)
        var text = String(decoding: full, as: UTF8.self)
        text = text.replacingOccurrences(of: "\"name\" : \"test-model\"", with: "\"name\" : \"\(huge)\"")
        #expect(refusal { _ = try BundleManifest.parse(Array(text.utf8)) } == .tooLarge)
        #expect(refusal { _ = try BundleManifest.parse(Array("[1, 2]".utf8)) } == .malformed)
        let unknown = String(decoding: full, as: UTF8.self).replacingOccurrences(of: "\"schema\"", with: "\"exec\" : \"rm -rf /\", \"schema\"")
        #expect(refusal { _ = try BundleManifest.parse(Array(unknown.utf8)) } == .badField)
        let newer = String(decoding: full, as: UTF8.self).replacingOccurrences(of: "vigil.model-bundle/1", with: "vigil.model-bundle/2")
        #expect(refusal { _ = try BundleManifest.parse(Array(newer.utf8)) } == .tooNew)
        let negative = String(decoding: full, as: UTF8.self).replacingOccurrences(of: "\"size\" : 3\n", with: "\"size\" : -3\n")
        #expect(refusal { _ = try BundleManifest.parse(Array(negative.utf8)) } == .badField)
    }

    @Test func aBundleForANewerVigilIsRefused() throws {
        let f = try BundleFixture()
        try f.editManifest { $0.replacingOccurrences(of: "\"min_vigil_version\" : \"0.1.0\"", with: "\"min_vigil_version\" : \"9.0.0\"") }
        try f.forceSign()
        #expect(refusal { _ = try f.verify() } == .tooNew)
    }

    @Test func keysReadAsConfiguredAndAsOpenSSLWritesThem() throws {
        let key = BundleSigningKey.generate()
        #expect(try BundlePublicKey(text: key.publicKey.text) == key.publicKey)
        #expect(try BundleSigningKey(pem: key.pem).publicKey == key.publicKey)
        #expect(refusal { _ = try BundlePublicKey(text: "ed25519:AAAA") } == .badField)
        #expect(refusal { _ = try BundlePublicKey(text: "ssh-ed25519 AAAAC3Nza") } == .badField)
        // The committed key of the default bundle.
        let committed = try String(contentsOfFile: RepositoryPaths.file("deploy/keys/vigil-default.pub"), encoding: .utf8)
        #expect(try BundlePublicKey(text: committed).id.count == 16)
    }

    @Test func theHashCacheSkipsAnUnchangedFileAndNoticesAChangedOne() throws {
        let f = try BundleFixture()
        let cachePath = f.dir.path + "/cache.json"
        #expect(try f.verify(cache: HashCache(path: cachePath)).hashedFiles == 3)
        #expect(try f.verify(cache: HashCache(path: cachePath)).hashedFiles == 0)
        // Rewritten in place with the same size and its old modification time put back: the change
        // time still differs, so the file is hashed again and refused.
        let model = f.bundle + "/model.gguf"
        let mtime = try FileManager.default.attributesOfItem(atPath: model)[.modificationDate] as! Date
        usleep(20_000)
        let handle = try #require(FileHandle(forWritingAtPath: model))
        try handle.write(contentsOf: Data("X".utf8))
        try handle.close()
        try FileManager.default.setAttributes([.modificationDate: mtime], ofItemAtPath: model)
        #expect(refusal { _ = try f.verify(cache: HashCache(path: cachePath)) } == .hashMismatch)
        // A damaged cache file costs only a hash.
        try "{not json".write(toFile: cachePath, atomically: true, encoding: .utf8)
        try "GGUF fake model bytes".write(toFile: model, atomically: false, encoding: .utf8)
        #expect(try f.verify(cache: HashCache(path: cachePath)).hashedFiles == 3)
    }
}

@Suite struct BundleStoreTests {
    @Test func installKeepsThePreviousBundleAndRollbackSwaps() throws {
        let one = try BundleFixture(version: "1.0.0")
        let store = BundleStore(root: one.dir.path + "/store")
        let keys = [one.key.publicKey]
        _ = try store.add(try one.verify(), trustedKeys: keys, vigilVersion: "0.1.0")
        try store.activate("test-model-1.0.0")
        #expect(store.current == "test-model-1.0.0")
        #expect(store.previous == nil)

        // The second version, signed by the same key.
        let two = try BundleFixture(version: "1.1.0")
        let twoKeys = keys + [two.key.publicKey]
        _ = try store.add(try two.verify(), trustedKeys: twoKeys, vigilVersion: "0.1.0")
        #expect(store.installed() == ["test-model-1.0.0", "test-model-1.1.0"])
        try store.activate("test-model-1.1.0")
        #expect(store.current == "test-model-1.1.0")
        #expect(store.previous == "test-model-1.0.0")

        let (from, to) = try store.rollback()
        #expect(from == "test-model-1.1.0" && to == "test-model-1.0.0")
        #expect(store.current == "test-model-1.0.0")
        #expect(store.previous == "test-model-1.1.0")
        #expect(refusal { try store.remove("test-model-1.0.0") } == .badField)

        // The store's copy verifies on its own, whatever happens to the source folder.
        try FileManager.default.removeItem(atPath: one.bundle)
        #expect(try one.verify(at: store.directory("test-model-1.0.0")).manifest.version == "1.0.0")
    }

    @Test func aDifferentBundleUnderAnInstalledVersionIsRefused() throws {
        let first = try BundleFixture(version: "1.0.0")
        let store = BundleStore(root: first.dir.path + "/store")
        _ = try store.add(try first.verify(), trustedKeys: [first.key.publicKey], vigilVersion: "0.1.0")
        // The same bundle again is fine.
        _ = try store.add(try first.verify(), trustedKeys: [first.key.publicKey], vigilVersion: "0.1.0")
        let other = try BundleFixture(version: "1.0.0", files: [(.model, "model.gguf", "another model"),
                                                                (.selfTestEvents, "events.jsonl", "{}\n"),
                                                                (.selfTestCatalog, "catalog.yaml", "site: x\n")])
        #expect(refusal { _ = try store.add(try other.verify(), trustedKeys: [other.key.publicKey], vigilVersion: "0.1.0") } == .badField)
        #expect(refusal { try store.activate("test-model-9.9.9") } == .notInstalled)
        #expect(refusal { try store.rollback() } == .notInstalled)
    }

    @Test func aDamagedPointerFileReadsAsNone() throws {
        let f = try BundleFixture()
        let store = BundleStore(root: f.dir.path + "/store")
        try FileManager.default.createDirectory(atPath: store.root, withIntermediateDirectories: true)
        try "../../etc\n".write(toFile: store.root + "/current", atomically: true, encoding: .utf8)
        #expect(store.current == nil)
    }
}
