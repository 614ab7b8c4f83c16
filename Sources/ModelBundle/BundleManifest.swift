import Foundation

/// What a model bundle holds (`manifest.json`, schema `vigil.model-bundle/1`): its name and version,
/// the files with their sizes and SHA-256, the oldest Vigil that can run it and the narration self-test
/// it must pass. The manifest is signed as it is on disk (`manifest.sig`), byte for byte.
///
/// Parsing is strict and bounded: the file is at most `maxBytes`, every string has a length limit,
/// file names are one path component of a small alphabet (no `/`, no `..`, no leading dot), unknown
/// keys are refused. Input that breaks a rule is a `BundleError`, never a crash.
public struct BundleManifest: Sendable, Equatable {
    public static let schema = "vigil.model-bundle/1"
    public static let fileName = "manifest.json"
    public static let signatureFileName = "manifest.sig"
    /// Manifests are small: a few hundred bytes per file.
    public static let maxBytes = 64 * 1024

    public enum Role: String, Sendable, CaseIterable, Codable {
        /// The base GGUF model (exactly one).
        case model
        /// A LoRA adapter applied on the base model (at most one).
        case adapter
        /// Recorded events (JSON lines) the self-test narrates (exactly one).
        case selfTestEvents = "self_test_events"
        /// The catalog those events name (exactly one).
        case selfTestCatalog = "self_test_catalog"

        var maxSize: Int64 { self == .model ? 16 << 30 : 64 << 20 }
    }

    public struct File: Sendable, Equatable {
        public var role: Role
        /// One path component inside the bundle's folder.
        public var path: String
        public var size: Int64
        /// 64 lowercase hexadecimal digits.
        public var sha256: String

        public init(role: Role, path: String, size: Int64, sha256: String) {
            self.role = role
            self.path = path
            self.size = size
            self.sha256 = sha256
        }
    }

    /// What the bundle's narration must achieve on its own recorded events before it is switched to.
    public struct SelfTest: Sendable, Equatable {
        /// The share of events whose model text the verifier accepts (0...1).
        public var minModelShare: Double
        /// Text that fails the verifier when checked again must never be delivered; a bundle may only
        /// be stricter than 0 (it cannot be).
        public var maxUnverified: Int = 0

        public init(minModelShare: Double) {
            self.minModelShare = minModelShare
        }
    }

    public var name: String
    public var version: String
    public var minVigilVersion: String
    public var description: String?
    public var createdAt: String?
    /// After this instant (RFC 3339) the signature no longer counts.
    public var expiresAt: String?
    public var files: [File]
    public var selfTest: SelfTest

    public init(name: String, version: String, minVigilVersion: String, files: [File], selfTest: SelfTest,
                description: String? = nil, createdAt: String? = nil, expiresAt: String? = nil) {
        self.name = name
        self.version = version
        self.minVigilVersion = minVigilVersion
        self.files = files
        self.selfTest = selfTest
        self.description = description
        self.createdAt = createdAt
        self.expiresAt = expiresAt
    }

    /// `name-version`: the bundle's folder in a store, and how logs and the status name it.
    public var id: String { "\(name)-\(version)" }

    public func file(_ role: Role) -> File? { files.first { $0.role == role } }

    // MARK: - Encoding

    /// The manifest as it is written to disk: sorted keys, two-space indentation, a final newline.
    public func jsonBytes() -> [UInt8] {
        var root: [String: Any] = [
            "schema": Self.schema, "name": name, "version": version, "min_vigil_version": minVigilVersion,
            "files": files.map { ["role": $0.role.rawValue, "path": $0.path, "size": $0.size, "sha256": $0.sha256] as [String: Any] },
            "self_test": ["min_model_share": selfTest.minModelShare, "max_unverified": selfTest.maxUnverified] as [String: Any],
        ]
        if let description { root["description"] = description }
        if let createdAt { root["created_at"] = createdAt }
        if let expiresAt { root["expires_at"] = expiresAt }
        let data = (try? JSONSerialization.data(withJSONObject: root, options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes])) ?? Data()
        return [UInt8](data) + [0x0A]
    }

    // MARK: - Parsing

    public static func parse(_ bytes: [UInt8]) throws -> BundleManifest {
        guard !bytes.isEmpty else { throw BundleError(.truncated, "the manifest is empty") }
        guard bytes.count <= maxBytes else {
            throw BundleError(.tooLarge, "the manifest is \(bytes.count) bytes; at most \(maxBytes) are read")
        }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(bytes), options: [])
        } catch {
            let last = bytes.reversed().first { ![0x20, 0x0A, 0x0D, 0x09].contains($0) }
            if last != UInt8(ascii: "}") || depth(bytes) > 0 {
                throw BundleError(.truncated, "the manifest ends before its JSON does (truncated: \(bytes.count) bytes)")
            }
            throw BundleError(.malformed, "the manifest is not valid JSON")
        }
        guard let root = object as? [String: Any] else { throw BundleError(.malformed, "the manifest is not a JSON object") }
        let allowed: Set<String> = ["schema", "name", "version", "min_vigil_version", "description", "created_at",
                                    "expires_at", "files", "self_test"]
        if let unknown = root.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw BundleError(.badField, "unknown key `\(String(unknown.prefix(40)))` in the manifest")
        }
        let schema = try string(root, "schema", max: 64)
        guard schema == Self.schema else {
            if schema.hasPrefix("vigil.model-bundle/") {
                throw BundleError(.tooNew, "manifest schema `\(schema)`; this vigil reads `\(Self.schema)`: upgrade vigil")
            }
            throw BundleError(.badField, "`schema` is `\(schema)`, expected `\(Self.schema)`")
        }
        let name = try string(root, "name", max: 64)
        guard isName(name) else {
            throw BundleError(.badField, "`name` must be 1-64 of a-z 0-9 . _ - starting with a letter or digit")
        }
        let version = try string(root, "version", max: 40)
        guard SemanticVersion(version) != nil else { throw BundleError(.badField, "`version` `\(version)` is not MAJOR.MINOR.PATCH") }
        let minVigil = try string(root, "min_vigil_version", max: 40)
        guard SemanticVersion(minVigil) != nil else {
            throw BundleError(.badField, "`min_vigil_version` `\(minVigil)` is not MAJOR.MINOR.PATCH")
        }
        let description = try optionalString(root, "description", max: 1024)
        let createdAt = try optionalString(root, "created_at", max: 40)
        let expiresAt = try optionalString(root, "expires_at", max: 40)
        if let expiresAt, rfc3339Date(expiresAt) == nil {
            throw BundleError(.badField, "`expires_at` is not an RFC 3339 time (e.g. 2027-12-31T00:00:00Z)")
        }

        guard let rawFiles = root["files"] as? [Any] else { throw BundleError(.badField, "`files` must be a list") }
        guard rawFiles.count <= 16 else { throw BundleError(.tooLarge, "`files` lists \(rawFiles.count) files; at most 16") }
        var files: [File] = []
        for (i, raw) in rawFiles.enumerated() {
            guard let entry = raw as? [String: Any] else { throw BundleError(.badField, "`files[\(i)]` must be an object") }
            if let unknown = entry.keys.sorted().first(where: { !["role", "path", "size", "sha256"].contains($0) }) {
                throw BundleError(.badField, "unknown key `\(String(unknown.prefix(40)))` in `files[\(i)]`")
            }
            let roleName = try string(entry, "role", max: 32, at: "files[\(i)].")
            guard let role = Role(rawValue: roleName) else {
                throw BundleError(.badField, "`files[\(i)].role` `\(roleName)` is not one of \(Role.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            guard let rawPath = entry["path"] as? String else { throw BundleError(.badField, "`files[\(i)].path` must be a string") }
            try checkPath(rawPath, at: "files[\(i)].path")
            guard let size = (entry["size"] as? NSNumber).flatMap({ exactInt64($0) }), size >= 0 else {
                throw BundleError(.badField, "`files[\(i)].size` must be a whole number of bytes")
            }
            guard size <= role.maxSize else {
                throw BundleError(.tooLarge, "`files[\(i)].size` \(size) is above the \(role.rawValue) limit of \(role.maxSize) bytes")
            }
            let digest = try string(entry, "sha256", max: 64, at: "files[\(i)].")
            guard digest.count == 64, digest.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }) else {
                throw BundleError(.badField, "`files[\(i)].sha256` must be 64 lowercase hexadecimal digits")
            }
            files.append(File(role: role, path: rawPath, size: size, sha256: digest))
        }
        guard Set(files.map(\.path)).count == files.count else { throw BundleError(.badField, "`files` names one path twice") }
        for role in Role.allCases {
            let count = files.filter { $0.role == role }.count
            let wanted = role == .adapter ? 0...1 : 1...1
            guard wanted.contains(count) else {
                throw BundleError(.badField, "`files` has \(count) of role `\(role.rawValue)`; expected \(role == .adapter ? "at most one" : "exactly one")")
            }
        }

        guard let test = root["self_test"] as? [String: Any] else { throw BundleError(.badField, "`self_test` must be an object") }
        if let unknown = test.keys.sorted().first(where: { !["min_model_share", "max_unverified"].contains($0) }) {
            throw BundleError(.badField, "unknown key `\(String(unknown.prefix(40)))` in `self_test`")
        }
        guard let share = (test["min_model_share"] as? NSNumber)?.doubleValue, share.isFinite, (0...1).contains(share) else {
            throw BundleError(.badField, "`self_test.min_model_share` must be a number from 0 to 1")
        }
        var selfTest = SelfTest(minModelShare: share)
        if let v = test["max_unverified"] {
            guard let n = (v as? NSNumber).flatMap({ exactInt64($0) }), n == 0 else {
                throw BundleError(.badField, "`self_test.max_unverified` must be 0: unverified text is never delivered")
            }
            selfTest.maxUnverified = 0
        }
        return BundleManifest(name: name, version: version, minVigilVersion: minVigil, files: files, selfTest: selfTest,
                              description: description, createdAt: createdAt, expiresAt: expiresAt)
    }

    /// A file name inside a bundle: one component, 1-128 of A-Z a-z 0-9 . _ -, not starting with a dot.
    public static func checkPath(_ path: String, at key: String = "path") throws {
        guard !path.isEmpty, path.utf8.count <= 128 else {
            throw BundleError(.unsafePath, "`\(key)` must be 1-128 bytes")
        }
        let shown = String(path.prefix(60)).unicodeScalars.map { $0.isASCII && $0.value >= 0x20 ? String($0) : "?" }.joined()
        guard !path.contains("/"), !path.contains("\\"), path != "..", !path.hasPrefix(".") else {
            throw BundleError(.unsafePath, "`\(key)` `\(shown)` is not a plain file name inside the bundle (no `/`, no `..`, no leading `.`)")
        }
        guard path.utf8.allSatisfy({ isNameByte($0) || (0x41...0x5A).contains($0) }) else {
            throw BundleError(.unsafePath, "`\(key)` `\(shown)` has characters outside A-Z a-z 0-9 . _ -")
        }
    }

    static func isNameByte(_ b: UInt8) -> Bool {
        (0x61...0x7A).contains(b) || (0x30...0x39).contains(b) || b == UInt8(ascii: ".") || b == UInt8(ascii: "_") || b == UInt8(ascii: "-")
    }

    public static func isName(_ name: String) -> Bool {
        guard let first = name.utf8.first, !name.isEmpty, name.utf8.count <= 64 else { return false }
        return ((0x61...0x7A).contains(first) || (0x30...0x39).contains(first)) && name.utf8.allSatisfy(isNameByte)
    }

    private static func string(_ object: [String: Any], _ key: String, max: Int, at prefix: String = "") throws -> String {
        guard let value = object[key] else { throw BundleError(.badField, "`\(prefix)\(key)` is missing") }
        guard let s = value as? String else { throw BundleError(.badField, "`\(prefix)\(key)` must be a string") }
        guard s.utf8.count <= max else { throw BundleError(.tooLarge, "`\(prefix)\(key)` is \(s.utf8.count) bytes; at most \(max)") }
        return s
    }

    private static func optionalString(_ object: [String: Any], _ key: String, max: Int) throws -> String? {
        object[key] == nil ? nil : try string(object, key, max: max)
    }

    private static func exactInt64(_ n: NSNumber) -> Int64? {
        let d = n.doubleValue
        guard d.isFinite, d == d.rounded(), abs(d) < 9e15 else { return nil }
        return Int64(d)
    }

    /// How many `{`/`[` are open at the end, outside strings (a truncated file leaves some open).
    private static func depth(_ bytes: [UInt8]) -> Int {
        var depth = 0, inString = false, escaped = false
        for b in bytes {
            if inString {
                if escaped { escaped = false } else if b == 0x5C { escaped = true } else if b == 0x22 { inString = false }
                continue
            }
            switch b {
            case 0x22: inString = true
            case 0x7B, 0x5B: depth += 1
            case 0x7D, 0x5D: depth -= 1
            default: break
            }
        }
        return inString ? 1 : depth
    }
}

/// MAJOR.MINOR.PATCH with an optional `-pre` or `+build` tail (ignored when comparing).
public struct SemanticVersion: Sendable, Comparable, CustomStringConvertible {
    public let major: Int, minor: Int, patch: Int
    public init?(_ text: String) {
        guard text.utf8.count <= 40 else { return nil }
        let core = text.split(maxSplits: 1, omittingEmptySubsequences: false, whereSeparator: { $0 == "-" || $0 == "+" }).first ?? ""
        let parts = core.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let a = Int(parts[0]), let b = Int(parts[1]), let c = Int(parts[2]),
              a >= 0, b >= 0, c >= 0, parts.allSatisfy({ (part: Substring) in part.count <= 9 && part.allSatisfy { $0.isASCII } }) else { return nil }
        if core.count < text.count {
            let tail = text.dropFirst(core.count + 1)
            guard !tail.isEmpty, tail.utf8.allSatisfy({ BundleManifest.isNameByte($0) || (0x41...0x5A).contains($0) || $0 == UInt8(ascii: "+") }) else { return nil }
        }
        (major, minor, patch) = (a, b, c)
    }
    public static func < (l: Self, r: Self) -> Bool { (l.major, l.minor, l.patch) < (r.major, r.minor, r.patch) }
    public static func == (l: Self, r: Self) -> Bool { (l.major, l.minor, l.patch) == (r.major, r.minor, r.patch) }
    public var description: String { "\(major).\(minor).\(patch)" }
}

func rfc3339Date(_ text: String) -> Date? {
    let f = ISO8601DateFormatter()
    f.formatOptions = [.withInternetDateTime]
    if let d = f.date(from: text) { return d }
    f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
    return f.date(from: text)
}
