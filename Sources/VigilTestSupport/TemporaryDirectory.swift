import Foundation

/// A fresh directory under the system's temporary directory, removed in `deinit`
/// (or earlier with `remove()`).
public final class TemporaryDirectory: @unchecked Sendable {
    // @unchecked: `removed` is guarded by `lock`.
    public let url: URL
    private let lock = NSLock()
    private var removed = false

    public var path: String { url.path }

    /// Creates `<tmp>/<prefix>-XXXXXX` with mode 0700.
    public init(prefix: String = "vigil") throws {
        let base = NSTemporaryDirectory().isEmpty ? "/tmp" : NSTemporaryDirectory()
        var template = Array((base.hasSuffix("/") ? base : base + "/").utf8CString.dropLast())
        template += Array("\(prefix)-XXXXXX".utf8CString)
        let created = template.withUnsafeMutableBufferPointer { buffer -> String? in
            guard let base = buffer.baseAddress, mkdtemp(base) != nil else { return nil }
            return String(cString: base)
        }
        guard let created else {
            throw TemporaryDirectoryError(message: "mkdtemp in \(base) failed: \(String(cString: strerror(errno)))")
        }
        url = URL(fileURLWithPath: created, isDirectory: true)
    }

    /// `url/name`.
    public func file(_ name: String) -> URL {
        url.appendingPathComponent(name)
    }

    /// Writes `contents` to `url/name` and returns its path.
    @discardableResult
    public func write(_ contents: String, to name: String) throws -> String {
        let target = file(name)
        try contents.write(to: target, atomically: true, encoding: .utf8)
        return target.path
    }

    public func remove() {
        let shouldRemove = lock.withLock {
            defer { removed = true }
            return !removed
        }
        if shouldRemove { try? FileManager.default.removeItem(at: url) }
    }

    deinit { remove() }
}

public struct TemporaryDirectoryError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}
