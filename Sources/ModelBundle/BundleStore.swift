import Foundation

/// The bundles installed on a gateway (`narration.bundles`, default /var/lib/vigil/models/bundles):
/// one folder per bundle, named by its id (`name-version`), and two pointer files, `current` (the
/// bundle the agent loads) and `previous` (the one `vigil model rollback` returns to). A bundle is
/// copied in under a temporary name, checked again there and renamed into place, and pointers are
/// replaced by rename: a power cut leaves either the old state or the new one.
public struct BundleStore: Sendable {
    public let root: String

    public init(root: String) {
        self.root = root
    }

    public func directory(_ id: String) -> String { root + "/" + id }
    public var hashCache: HashCache { HashCache(path: root + "/.hash-cache.json") }

    /// The id `current` names, nil when none is set (or the file is unreadable or not an id).
    public var current: String? { pointer("current") }
    public var previous: String? { pointer("previous") }

    /// The ids of the installed bundle folders (those holding a manifest), sorted.
    public func installed() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        return names.filter { Self.isID($0) && FileManager.default.fileExists(atPath: directory($0) + "/" + BundleManifest.fileName) }
            .sorted()
    }

    /// Copies the verified bundle `source` into the store (hard links where the file system
    /// allows), checks the copy against the same keys and returns it. A bundle already installed
    /// under its id is kept when its manifest is the same bytes; a different bundle under the same
    /// name and version is refused: versions are never rewritten in place.
    public func add(_ source: VerifiedBundle, trustedKeys: [BundlePublicKey], vigilVersion: String) throws -> VerifiedBundle {
        let fm = FileManager.default
        try ensureRoot()
        let id = source.manifest.id
        let target = directory(id)
        if fm.fileExists(atPath: target) {
            let there = (try? BundleVerifier.readBounded(target + "/" + BundleManifest.fileName, max: BundleManifest.maxBytes,
                                                         missing: .unreadable, what: "manifest.json")) ?? []
            guard there == source.manifestBytes else {
                throw BundleError(.badField, "a different bundle \(id) is already installed in \(root): give the new one another version")
            }
            return try BundleVerifier.verify(directory: target, trustedKeys: trustedKeys, vigilVersion: vigilVersion, cache: hashCache)
        }
        let incoming = root + "/.incoming-\(id)-\(FileSystem.processID)"
        try? fm.removeItem(atPath: incoming)
        try fm.createDirectory(atPath: incoming, withIntermediateDirectories: false)
        do {
            for name in source.manifest.files.map(\.path) + [BundleManifest.fileName, BundleManifest.signatureFileName] {
                try Self.place(source.directory + "/" + name, at: incoming + "/" + name)
            }
            _ = try BundleVerifier.verify(directory: incoming, trustedKeys: trustedKeys, vigilVersion: vigilVersion, cache: hashCache)
            try FileSystem.move(incoming, to: target)
        } catch {
            try? fm.removeItem(atPath: incoming)
            throw error
        }
        return try BundleVerifier.verify(directory: target, trustedKeys: trustedKeys, vigilVersion: vigilVersion, cache: hashCache)
    }

    /// Makes `id` current; the bundle it replaces becomes `previous` (unless it is `id` itself).
    public func activate(_ id: String) throws {
        guard installed().contains(id) else { throw BundleError(.notInstalled, "\(id) is not installed in \(root)") }
        if let now = current, now != id { try setPointer("previous", now) }
        try setPointer("current", id)
    }

    /// Swaps `current` and `previous`; returns (from, to).
    @discardableResult
    public func rollback() throws -> (from: String?, to: String) {
        guard let back = previous, installed().contains(back) else {
            throw BundleError(.notInstalled, "no previous bundle to roll back to in \(root)")
        }
        let from = current
        try setPointer("current", back)
        if let from { try setPointer("previous", from) }
        return (from, back)
    }

    /// Removes an installed bundle that is neither current nor previous.
    public func remove(_ id: String) throws {
        guard Self.isID(id), installed().contains(id) else { throw BundleError(.notInstalled, "\(id) is not installed in \(root)") }
        guard id != current, id != previous else {
            throw BundleError(.badField, "\(id) is the current or previous bundle; install or roll back to another first")
        }
        try FileManager.default.removeItem(atPath: directory(id))
    }

    // MARK: - Files

    /// `name-version` as `BundleManifest.id` makes it: a plain folder name.
    static func isID(_ text: String) -> Bool {
        guard !text.hasPrefix("."), text.utf8.count <= 110, text.contains("-") else { return false }
        return text.utf8.allSatisfy { BundleManifest.isNameByte($0) || (0x41...0x5A).contains($0) || $0 == UInt8(ascii: "+") }
    }

    private func ensureRoot() throws {
        do {
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        } catch {
            throw BundleError(.io, "cannot create the bundle store \(root): \(error.localizedDescription)")
        }
    }

    private func pointer(_ name: String) -> String? {
        guard let data = FileManager.default.contents(atPath: root + "/" + name), data.count <= 256,
              let text = String(data: data, encoding: .utf8)?.trimmingCharacters(in: .whitespacesAndNewlines),
              Self.isID(text) else { return nil }
        return text
    }

    private func setPointer(_ name: String, _ id: String) throws {
        try FileSystem.replace(root + "/" + name, with: Data((id + "\n").utf8), sync: true)
    }

    /// Puts `source` at `target`: a hard link on the same file system, a copy otherwise.
    static func place(_ source: String, at target: String) throws {
        let fm = FileManager.default
        guard fm.fileExists(atPath: source) else { throw BundleError(.missingFile, "no file \(source)") }
        if (try? fm.linkItem(atPath: source, toPath: target)) != nil { return }
        do {
            try fm.copyItem(atPath: source, toPath: target)
        } catch {
            throw BundleError(.io, "cannot copy \(source) to \(target): \(error.localizedDescription)")
        }
    }
}
