import Crypto
import Foundation

/// An Ed25519 public key a gateway trusts. Written `ed25519:<base64 of the 32 raw bytes>` in the
/// configuration (`narration.trusted_keys`) and in `.pub` files; a PEM `PUBLIC KEY` (what
/// `openssl pkey -pubout` prints) is read too. Its id is the first 16 hex digits of the SHA-256 of
/// the raw key.
public struct BundlePublicKey: Sendable, Equatable, CustomStringConvertible {
    public let raw: [UInt8]

    public init(raw: [UInt8]) throws {
        guard raw.count == 32, (try? Curve25519.Signing.PublicKey(rawRepresentation: raw)) != nil else {
            throw BundleError(.badField, "an Ed25519 public key is 32 bytes")
        }
        self.raw = raw
    }

    /// `ed25519:BASE64` or a PEM public key.
    public init(text: String) throws {
        let t = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard t.utf8.count <= 4096 else { throw BundleError(.tooLarge, "a public key is a short text") }
        if t.hasPrefix("ed25519:") {
            guard let bytes = Data(base64Encoded: String(t.dropFirst(8))) else {
                throw BundleError(.badField, "`\(t.prefix(60))`: expected ed25519: followed by base64")
            }
            try self.init(raw: [UInt8](bytes))
        } else if t.hasPrefix("-----BEGIN PUBLIC KEY-----") {
            let der = try PEM.decode(t, label: "PUBLIC KEY")
            // SubjectPublicKeyInfo of an Ed25519 key (RFC 8410): a fixed 12-byte prefix and the key.
            let prefix: [UInt8] = [0x30, 0x2A, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x03, 0x21, 0x00]
            guard der.count == 44, Array(der.prefix(12)) == prefix else {
                throw BundleError(.badField, "the PEM public key is not an Ed25519 key")
            }
            try self.init(raw: Array(der.suffix(32)))
        } else {
            throw BundleError(.badField, "expected `ed25519:BASE64` or a PEM public key, found `\(t.prefix(40))`")
        }
    }

    /// A key as configured: `ed25519:BASE64` or a PEM block, else the path of a file holding one
    /// (`resolve` turns a relative path into the one to read).
    public static func read(_ entry: String, resolve: (String) -> String = { $0 }) throws -> BundlePublicKey {
        if entry.hasPrefix("ed25519:") || entry.hasPrefix("-----BEGIN") { return try BundlePublicKey(text: entry) }
        let path = resolve(entry)
        guard let data = FileManager.default.contents(atPath: path), data.count <= 8192 else {
            throw BundleError(.unreadable, "cannot read the public key file `\(path)`")
        }
        return try BundlePublicKey(text: String(decoding: data, as: UTF8.self))
    }

    public var id: String { SHA256.hash(data: raw).prefix(8).map { String(format: "%02x", $0) }.joined() }
    public var text: String { "ed25519:" + Data(raw).base64EncodedString() }
    public var description: String { "\(text) (id \(id))" }

    public func isValidSignature(_ signature: [UInt8], for message: [UInt8]) -> Bool {
        guard let key = try? Curve25519.Signing.PublicKey(rawRepresentation: raw) else { return false }
        return key.isValidSignature(signature, for: message)
    }
}

/// The private half, kept off the gateway and out of the repository. Read from a PEM `PRIVATE KEY`
/// (PKCS #8, what `openssl genpkey -algorithm ed25519` writes; deploy/bundle-keygen.sh makes one).
public struct BundleSigningKey: Sendable {
    /// The 32-byte seed (the key object itself is not Sendable).
    let seed: [UInt8]
    var key: Curve25519.Signing.PrivateKey {
        // The seed was accepted by the same initialiser when this value was made.
        try! Curve25519.Signing.PrivateKey(rawRepresentation: seed)
    }

    /// A new random key (tests; deploy/bundle-keygen.sh uses openssl).
    public static func generate() -> BundleSigningKey { BundleSigningKey(key: Curve25519.Signing.PrivateKey()) }

    public init(pem: String) throws {
        let der = try PEM.decode(pem, label: "PRIVATE KEY")
        // PKCS #8 of an Ed25519 key (RFC 8410): a fixed 16-byte prefix and the 32-byte seed.
        let prefix: [UInt8] = [0x30, 0x2E, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]
        guard der.count == 48, Array(der.prefix(16)) == prefix else {
            throw BundleError(.badField, "the PEM private key is not an Ed25519 key (make one with deploy/bundle-keygen.sh)")
        }
        seed = [UInt8](try Curve25519.Signing.PrivateKey(rawRepresentation: der.suffix(32)).rawRepresentation)
    }

    init(key: Curve25519.Signing.PrivateKey) { seed = [UInt8](key.rawRepresentation) }

    public var pem: String {
        let prefix: [UInt8] = [0x30, 0x2E, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2B, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]
        return PEM.encode(prefix + [UInt8](key.rawRepresentation), label: "PRIVATE KEY")
    }

    public var publicKey: BundlePublicKey {
        // A valid key's public half is always 32 bytes.
        try! BundlePublicKey(raw: [UInt8](key.publicKey.rawRepresentation))
    }

    public func sign(_ message: [UInt8]) throws -> [UInt8] {
        [UInt8](try key.signature(for: message))
    }
}

/// `manifest.sig`: which key signed the manifest, and the signature over its exact bytes.
public struct BundleSignature: Sendable, Equatable {
    public static let maxBytes = 4096
    public var keyID: String
    public var signature: [UInt8]

    public init(keyID: String, signature: [UInt8]) {
        self.keyID = keyID
        self.signature = signature
    }

    public func jsonBytes() -> [UInt8] {
        Array("{\"algorithm\":\"ed25519\",\"key_id\":\"\(keyID)\",\"signature\":\"\(Data(signature).base64EncodedString())\"}\n".utf8)
    }

    public static func parse(_ bytes: [UInt8]) throws -> BundleSignature {
        guard !bytes.isEmpty else { throw BundleError(.missingSignature, "manifest.sig is empty") }
        guard bytes.count <= maxBytes else { throw BundleError(.tooLarge, "manifest.sig is \(bytes.count) bytes; at most \(maxBytes)") }
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else {
            throw BundleError(.badSignature, "manifest.sig is not a JSON object (truncated or damaged)")
        }
        guard object["algorithm"] as? String == "ed25519" else {
            throw BundleError(.badSignature, "manifest.sig: `algorithm` must be `ed25519`")
        }
        guard let keyID = object["key_id"] as? String, keyID.count == 16, keyID.allSatisfy(\.isHexDigit) else {
            throw BundleError(.badSignature, "manifest.sig: `key_id` must be 16 hexadecimal digits")
        }
        guard let text = object["signature"] as? String, text.utf8.count <= 200, let sig = Data(base64Encoded: text), sig.count == 64 else {
            throw BundleError(.badSignature, "manifest.sig: `signature` must be the 64 bytes of an Ed25519 signature in base64")
        }
        return BundleSignature(keyID: keyID.lowercased(), signature: [UInt8](sig))
    }
}

enum PEM {
    static func decode(_ text: String, label: String) throws -> [UInt8] {
        let begin = "-----BEGIN \(label)-----", end = "-----END \(label)-----"
        guard text.utf8.count <= 8192, let b = text.range(of: begin), let e = text.range(of: end), b.upperBound <= e.lowerBound else {
            throw BundleError(.badField, "expected a PEM block `\(begin)`")
        }
        let body = text[b.upperBound..<e.lowerBound].filter { !$0.isWhitespace }
        guard let data = Data(base64Encoded: String(body)) else { throw BundleError(.badField, "the PEM block is not base64") }
        return [UInt8](data)
    }

    static func encode(_ der: [UInt8], label: String) -> String {
        let b64 = Data(der).base64EncodedString(options: [.lineLength64Characters, .endLineWithLineFeed])
        return "-----BEGIN \(label)-----\n\(b64)\n-----END \(label)-----\n"
    }
}
