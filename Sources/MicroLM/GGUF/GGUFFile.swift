#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A GGUF model file (versions 2 and 3), memory-mapped read-only.
///
/// `open` validates the whole header against the file size before it returns: every tensor's bytes lie
/// inside the file, so `bytes(of:)` hands out zero-copy views without further checks. The mapping lives
/// as long as this object; keep it alive while any view is in use.
/// (As with any mapping, truncating the file on disk while it is open would fault: don't.)
public final class GGUFFile: @unchecked Sendable {
    public let path: String
    public let version: UInt32
    /// All metadata, by key.
    public let metadata: [String: GGUFValue]
    /// The metadata keys in file order, for printing.
    public let metadataKeys: [String]
    /// The tensor directory in file order.
    public let tensors: [GGUFTensorInfo]
    /// Alignment of tensor data (`general.alignment`, default 32).
    public let alignment: Int
    /// Absolute offset of the tensor data section.
    public let dataOffset: Int
    /// Size of the file in bytes.
    public let fileSize: Int

    private let tensorIndex: [String: Int]
    private let base: UnsafeRawPointer
    private let mappedLength: Int

    private init(path: String, header: GGUFHeader, base: UnsafeRawPointer, length: Int) {
        self.path = path
        self.version = header.version
        self.metadata = header.metadata
        self.metadataKeys = header.metadataKeys
        self.tensors = header.tensors
        self.tensorIndex = header.tensorIndex
        self.alignment = header.alignment
        self.dataOffset = header.dataOffset
        self.fileSize = length
        self.base = base
        self.mappedLength = length
    }

    deinit {
        munmap(UnsafeMutableRawPointer(mutating: base), mappedLength)
    }

    /// Maps and validates the file at `path`. Throws `GGUFError` for anything missing, truncated,
    /// hostile or unsupported.
    public static func open(path: String) throws -> GGUFFile {
        let fd = systemOpen(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw GGUFError.cannotOpen(path: path, reason: lastError()) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw GGUFError.cannotOpen(path: path, reason: lastError()) }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw GGUFError.cannotOpen(path: path, reason: "not a regular file")
        }
        let size = Int(info.st_size)
        guard size >= 8 else {
            throw GGUFError.truncated(what: "magic and version", offset: 0, needed: 8, fileSize: size)
        }
        guard let mapped = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), mapped != MAP_FAILED else {
            throw GGUFError.cannotOpen(path: path, reason: "mmap failed: \(lastError())")
        }
        let base = UnsafeRawPointer(mapped)
        do {
            let header = try GGUFParser.parse(base: base, size: size)
            return GGUFFile(path: path, header: header, base: base, length: size)
        } catch {
            munmap(mapped, size)
            throw error
        }
    }

    /// The tensor called `name`, if the file has one.
    public func tensor(named name: String) -> GGUFTensorInfo? {
        tensorIndex[name].map { tensors[$0] }
    }

    /// The bytes of a tensor of this file, zero-copy. A tensor description that does not lie inside
    /// this file (one taken from another file) gets an empty buffer.
    public func bytes(of tensor: GGUFTensorInfo) -> UnsafeRawBufferPointer {
        guard tensor.offset >= 0, tensor.byteCount >= 0, tensor.offset <= fileSize,
              tensor.byteCount <= fileSize - tensor.offset else {
            return UnsafeRawBufferPointer(start: nil, count: 0)
        }
        return UnsafeRawBufferPointer(start: base + tensor.offset, count: tensor.byteCount)
    }

    /// The whole mapped file (for hashing or inspection).
    public var fileBytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: base, count: fileSize)
    }

    /// Sum of the byte sizes of all tensors.
    public var totalTensorBytes: Int { tensors.reduce(0) { $0 + $1.byteCount } }
}

private func systemOpen(_ path: String, _ flags: Int32) -> Int32 {
    #if canImport(Glibc)
    Glibc.open(path, flags)
    #elseif canImport(Musl)
    Musl.open(path, flags)
    #else
    Darwin.open(path, flags)
    #endif
}

private func lastError() -> String {
    String(cString: strerror(errno))
}
