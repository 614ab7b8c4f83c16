import Foundation

/// A bundle whose manifest verified against a trusted key and whose files have the manifest's sizes
/// and SHA-256.
public struct VerifiedBundle: Sendable {
    public let directory: String
    public let manifest: BundleManifest
    public let manifestBytes: [UInt8]
    public let key: BundlePublicKey
    /// Files hashed now rather than taken from the hash cache.
    public let hashedFiles: Int
    /// Time spent verifying: reading, the signature and the hashes.
    public let elapsed: Duration

    public func path(_ role: BundleManifest.Role) -> String? {
        manifest.file(role).map { directory + "/" + $0.path }
    }
    public var modelPath: String { path(.model)! }
}

public enum BundleVerifier {
    /// Checks the bundle in `directory`: the manifest (bounded, strict), its signature by one of
    /// `trustedKeys`, expiry, the Vigil version it needs, and every file's size and SHA-256 (through
    /// `cache`). Throws a `BundleError` with the reason of the first failure.
    public static func verify(directory: String, trustedKeys: [BundlePublicKey], vigilVersion: String,
                              cache: HashCache? = nil, now: Date = Date()) throws -> VerifiedBundle {
        let started = ContinuousClock.now
        let manifestBytes = try readBounded(directory + "/" + BundleManifest.fileName, max: BundleManifest.maxBytes,
                                            missing: .unreadable, what: "manifest.json")
        let manifest = try BundleManifest.parse(manifestBytes)
        let key = try checkSignature(directory: directory, manifestBytes: manifestBytes, trustedKeys: trustedKeys)
        if let expires = manifest.expiresAt, let date = rfc3339Date(expires), date < now {
            throw BundleError(.badSignature, "the signature of \(manifest.id) expired at \(expires)")
        }
        if let need = SemanticVersion(manifest.minVigilVersion), let have = SemanticVersion(vigilVersion), have < need {
            throw BundleError(.tooNew, "\(manifest.id) needs vigil \(manifest.minVigilVersion) or later; this is \(vigilVersion)")
        }
        let cache = cache ?? HashCache(path: nil)
        var hashed = 0
        for file in manifest.files {
            let path = directory + "/" + file.path
            guard let identity = FileIdentity.of(path) else {
                throw BundleError(.missingFile, "\(manifest.id): \(file.path) (\(file.role.rawValue)) is missing or not a regular file")
            }
            guard identity.size == file.size else {
                throw BundleError(.sizeMismatch, "\(manifest.id): \(file.path) is \(identity.size) bytes; the manifest says \(file.size)")
            }
            let result = try cache.sha256(of: path, limit: file.size)
            if result.hashed { hashed += 1 }
            guard result.digest == file.sha256 else {
                throw BundleError(.hashMismatch, "\(manifest.id): \(file.path) has SHA-256 \(result.digest); the manifest says \(file.sha256) (a damaged or replaced file)")
            }
        }
        cache.save()
        return VerifiedBundle(directory: directory, manifest: manifest, manifestBytes: manifestBytes, key: key,
                              hashedFiles: hashed, elapsed: ContinuousClock.now - started)
    }

    static func checkSignature(directory: String, manifestBytes: [UInt8], trustedKeys: [BundlePublicKey]) throws -> BundlePublicKey {
        let sigPath = directory + "/" + BundleManifest.signatureFileName
        guard FileManager.default.fileExists(atPath: sigPath) else {
            throw BundleError(.missingSignature, "\(directory) has no manifest.sig: the bundle is not signed (vigil model sign)")
        }
        let signature = try BundleSignature.parse(try readBounded(sigPath, max: BundleSignature.maxBytes, missing: .missingSignature, what: "manifest.sig"))
        guard !trustedKeys.isEmpty else {
            throw BundleError(.untrustedKey, "no trusted keys are configured (narration.trusted_keys): no bundle can be loaded")
        }
        guard let key = trustedKeys.first(where: { $0.id == signature.keyID }) else {
            throw BundleError(.untrustedKey, "signed by key \(signature.keyID), which is not in narration.trusted_keys (\(trustedKeys.map(\.id).joined(separator: ", ")))")
        }
        guard key.isValidSignature(signature.signature, for: manifestBytes) else {
            throw BundleError(.badSignature, "the signature does not match manifest.json for key \(key.id): the manifest was changed after signing, or the signature is damaged")
        }
        return key
    }

    /// Reads at most `max` bytes; a longer file is refused without reading the rest.
    static func readBounded(_ path: String, max: Int, missing: BundleError.Reason, what: String) throws -> [UInt8] {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw BundleError(missing, "cannot read \(what) in \(URL(fileURLWithPath: path).deletingLastPathComponent().path)")
        }
        defer { try? handle.close() }
        let data = (try? handle.read(upToCount: max + 1)) ?? Data()
        guard data.count <= max else { throw BundleError(.tooLarge, "\(what) is larger than \(max) bytes") }
        return [UInt8](data)
    }
}

/// Writing bundles: `vigil model pack` and `vigil model sign`.
public enum BundleWriter {
    /// Makes a bundle folder at `directory` from the given files (each copied, or hard-linked when on
    /// the same file system, under its own name) and writes its unsigned manifest.
    public static func pack(into directory: String, name: String, version: String, minVigilVersion: String,
                            files: [(role: BundleManifest.Role, source: String)], minModelShare: Double,
                            description: String? = nil, expiresAt: String? = nil) throws -> BundleManifest {
        let fm = FileManager.default
        try fm.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var entries: [BundleManifest.File] = []
        for (role, source) in files {
            let base = URL(fileURLWithPath: source).lastPathComponent
            try BundleManifest.checkPath(base, at: "\(role.rawValue) file name")
            let target = directory + "/" + base
            if URL(fileURLWithPath: source).standardizedFileURL.path != URL(fileURLWithPath: target).standardizedFileURL.path {
                try? fm.removeItem(atPath: target)
                try BundleStore.place(source, at: target)
            }
            let (digest, size) = try FileDigest.sha256(path: target)
            entries.append(.init(role: role, path: base, size: size, sha256: digest))
        }
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        let manifest = BundleManifest(name: name, version: version, minVigilVersion: minVigilVersion, files: entries,
                                      selfTest: .init(minModelShare: minModelShare), description: description,
                                      createdAt: f.string(from: Date()), expiresAt: expiresAt)
        // What the agent will read back: a manifest that would be refused is not written.
        _ = try BundleManifest.parse(manifest.jsonBytes())
        try Data(manifest.jsonBytes()).write(to: URL(fileURLWithPath: directory + "/" + BundleManifest.fileName))
        try? fm.removeItem(atPath: directory + "/" + BundleManifest.signatureFileName)
        return manifest
    }

    /// Signs the manifest in `directory` as it is on disk; writes manifest.sig.
    public static func sign(directory: String, key: BundleSigningKey) throws -> BundleSignature {
        let bytes = try BundleVerifier.readBounded(directory + "/" + BundleManifest.fileName, max: BundleManifest.maxBytes,
                                                   missing: .unreadable, what: "manifest.json")
        _ = try BundleManifest.parse(bytes)
        let signature = BundleSignature(keyID: key.publicKey.id, signature: try key.sign(bytes))
        try Data(signature.jsonBytes()).write(to: URL(fileURLWithPath: directory + "/" + BundleManifest.signatureFileName))
        return signature
    }
}
