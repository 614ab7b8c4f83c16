import Foundation
import VigilSupport
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The module's file operations: a file's identity (stat, for its change time, which Foundation does
/// not report), and an atomic rename or replace through VigilSupport's `SystemCalls`.
enum FileSystem {
    static var processID: Int32 { getpid() }

    static func identity(_ path: String) -> FileIdentity? {
        var s = stat()
        guard stat(path, &s) == 0, (s.st_mode & S_IFMT) == S_IFREG else { return nil }
        return FileIdentity(device: UInt64(s.st_dev), inode: UInt64(s.st_ino), size: Int64(s.st_size),
                            mtimeNs: Int64(s.st_mtim.tv_sec) * 1_000_000_000 + Int64(s.st_mtim.tv_nsec),
                            ctimeNs: Int64(s.st_ctim.tv_sec) * 1_000_000_000 + Int64(s.st_ctim.tv_nsec))
    }

    /// Renames `from` to `to`, replacing `to` (one step: a reader sees the old or the new).
    static func move(_ from: String, to: String) throws {
        do { try SystemCalls.rename(from, to: to) } catch {
            throw BundleError(.io, "cannot move \(from) to \(to): \(error.reason)")
        }
    }

    /// Replaces `path` with `data` by a rename from a temporary file beside it; with `sync`, durably
    /// (the file and its folder flushed to disk, `SystemCalls.writeAtomically`).
    static func replace(_ path: String, with data: Data, sync: Bool) throws {
        if sync {
            do { try SystemCalls.writeAtomically([UInt8](data), to: path, permissions: 0o644) } catch {
                throw BundleError(.io, "cannot write \(path): \(error)")
            }
            return
        }
        let tmp = path + ".tmp-\(getpid())"
        guard FileManager.default.createFile(atPath: tmp, contents: data) else { throw BundleError(.io, "cannot write \(tmp)") }
        do { try move(tmp, to: path) } catch {
            try? FileManager.default.removeItem(atPath: tmp)
            throw error
        }
    }
}
