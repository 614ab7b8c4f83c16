/// A bounds-checked little-endian reader over the mapped bytes of a GGUF file.
/// Every read checks the remaining length first and throws `GGUFError.truncated` instead of reading past the end.
struct GGUFCursor {
    let base: UnsafeRawPointer
    let size: Int
    var offset: Int = 0

    init(base: UnsafeRawPointer, size: Int) {
        self.base = base
        self.size = size
    }

    var remaining: Int { size - offset }

    func need(_ count: Int, _ what: @autoclosure () -> String) throws(GGUFError) {
        if count < 0 || count > size - offset {
            throw .truncated(what: what(), offset: offset, needed: count, fileSize: size)
        }
    }

    mutating func read<T: FixedWidthInteger>(_: T.Type, _ what: @autoclosure () -> String) throws(GGUFError) -> T {
        try need(MemoryLayout<T>.size, what())
        let value = base.loadUnaligned(fromByteOffset: offset, as: T.self)
        offset += MemoryLayout<T>.size
        return T(littleEndian: value)
    }

    mutating func u8(_ what: @autoclosure () -> String) throws(GGUFError) -> UInt8 { try read(UInt8.self, what()) }
    mutating func u32(_ what: @autoclosure () -> String) throws(GGUFError) -> UInt32 { try read(UInt32.self, what()) }
    mutating func u64(_ what: @autoclosure () -> String) throws(GGUFError) -> UInt64 { try read(UInt64.self, what()) }

    /// Reads a GGUF string (u64 length, then that many UTF-8 bytes). Invalid UTF-8 is repaired, never trusted.
    mutating func string(maxLength: Int, _ what: @autoclosure () -> String) throws(GGUFError) -> String {
        let start = offset
        let length = try u64("length of \(what())")
        guard length <= UInt64(maxLength) else {
            throw .limitExceeded(what: "length of \(what())", value: length, limit: UInt64(maxLength), offset: start)
        }
        let count = Int(length)
        try need(count, what())
        let bytes = UnsafeRawBufferPointer(start: base + offset, count: count)
        offset += count
        return String(decoding: bytes, as: UTF8.self)
    }

    /// `value` rounded up to a multiple of `alignment` (a power of two); nil if that overflows.
    func aligned(_ value: Int, to alignment: Int) -> Int? {
        let (sum, overflow) = value.addingReportingOverflow(alignment - 1)
        if overflow { return nil }
        return sum & ~(alignment - 1)
    }
}
