import Crypto
import Foundation

/// What identifies one state of a file on disk: device, inode, size, modification and change
/// times. The change time (ctime) cannot be set back by a user, so a file rewritten in place and
/// `touch`ed back to its old mtime still looks changed.
public struct FileIdentity: Sendable, Equatable, Codable {
    public var device: UInt64
    public var inode: UInt64
    public var size: Int64
    public var mtimeNs: Int64
    public var ctimeNs: Int64

    enum CodingKeys: String, CodingKey {
        case device = "dev", inode = "ino", size
        case mtimeNs = "mtime_ns", ctimeNs = "ctime_ns"
    }

    /// The file's identity now (following symbolic links); nil when it is not a readable regular file.
    public static func of(_ path: String) -> FileIdentity? { FileSystem.identity(path) }
}

public enum FileDigest {
    /// The SHA-256 of a file, streamed in 4 MiB reads; at most `limit` bytes are read (a file that
    /// grew past its manifest's size is refused without reading it all).
    public static func sha256(path: String, limit: Int64 = .max) throws -> (digest: String, size: Int64) {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw BundleError(.missingFile, "cannot open \(path)") }
        defer { try? handle.close() }
        var hasher = SHA256()
        var total: Int64 = 0
        while true {
            let chunk: Data
            do { chunk = try handle.read(upToCount: 4 << 20) ?? Data() } catch {
                throw BundleError(.io, "cannot read \(path): \(error.localizedDescription)")
            }
            if chunk.isEmpty { break }
            hasher.update(data: chunk)
            total += Int64(chunk.count)
            if total > limit { throw BundleError(.sizeMismatch, "\(path) is larger than the \(limit) bytes its manifest says") }
        }
        return (hex(hasher.finalize()), total)
    }

    static func hex<D: Sequence>(_ bytes: D) -> String where D.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for b in bytes { out.append(digits[Int(b >> 4)]); out.append(digits[Int(b & 15)]) }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Digests already computed, keyed by path and `FileIdentity`, kept in a small JSON file
/// (`.hash-cache.json` in the bundle store): a start-up whose model file has not changed since it
/// was last hashed reads the digest from here instead of hashing 94 MB again. A digest is used only
/// while every part of the identity matches; anything else hashes the file again. The signature is
/// always checked: the cache only saves the hashing.
public final class HashCache: @unchecked Sendable {
    public let path: String?
    private var entries: [String: Entry] = [:]
    private var dirty = false
    private let lock = NSLock()
    static let maxEntries = 64
    static let maxBytes = 256 * 1024

    struct Entry: Codable {
        var identity: FileIdentity
        var sha256: String
    }

    /// Nil `path`: a cache in memory only.
    public init(path: String?) {
        self.path = path
        guard let path, FileIdentity.of(path).map({ $0.size <= Self.maxBytes }) == true,
              let data = FileManager.default.contents(atPath: path),
              let decoded = try? JSONDecoder().decode([String: Entry].self, from: data)
        else { return }
        entries = decoded.filter { $0.value.sha256.count == 64 }
    }

    /// The digest of `file`: from the cache when its identity matches, else hashed (and remembered).
    /// `hashed` says which.
    public func sha256(of file: String, limit: Int64 = .max) throws -> (digest: String, size: Int64, hashed: Bool) {
        guard let before = FileIdentity.of(file) else {
            throw BundleError(.missingFile, "\(file) is missing or not a regular file")
        }
        if let hit = lock.withLock({ entries[file] }), hit.identity == before {
            return (hit.sha256, before.size, false)
        }
        let (digest, size) = try FileDigest.sha256(path: file, limit: limit)
        // Remembered only when the file did not change while it was read.
        if let after = FileIdentity.of(file), after == before {
            lock.withLock {
                entries[file] = Entry(identity: after, sha256: digest)
                if entries.count > Self.maxEntries, let drop = entries.keys.sorted().first(where: { $0 != file }) {
                    entries[drop] = nil
                }
                dirty = true
            }
        }
        return (digest, size, true)
    }

    /// Writes the cache when it changed (through a temporary file and a rename); a cache that cannot
    /// be written only costs the next start a hash.
    @discardableResult
    public func save() -> Bool {
        guard let path else { return true }
        let data: Data? = lock.withLock {
            guard dirty else { return nil }
            dirty = false
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            return try? encoder.encode(entries)
        }
        guard let data else { return true }
        return (try? FileSystem.replace(path, with: data, sync: false)) != nil
    }
}
