import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The module's system calls, in one place: a file's identity (stat, for its change time, which
/// Foundation does not report), an atomic rename, and a replace-by-rename with an optional fsync.
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
        guard rename(from, to) == 0 else {
            throw BundleError(.io, "cannot move \(from) to \(to): \(String(cString: strerror(errno)))")
        }
    }

    /// Writes `data` to a temporary file beside `path` (flushed to disk with `sync`) and renames it over `path`.
    static func replace(_ path: String, with data: Data, sync: Bool) throws {
        let tmp = path + ".tmp-\(getpid())"
        guard FileManager.default.createFile(atPath: tmp, contents: data) else { throw BundleError(.io, "cannot write \(tmp)") }
        if sync, let handle = FileHandle(forWritingAtPath: tmp) {
            try? handle.synchronize()
            try? handle.close()
        }
        do { try move(tmp, to: path) } catch {
            try? FileManager.default.removeItem(atPath: tmp)
            throw error
        }
    }
}
