/// The parsed header of a GGUF file: metadata and tensor directory, validated against the file size.
struct GGUFHeader {
    var version: UInt32 = 0
    var metadataKeys: [String] = []
    var metadata: [String: GGUFValue] = [:]
    var tensors: [GGUFTensorInfo] = []
    var tensorIndex: [String: Int] = [:]
    var alignment = GGUFLimits.defaultAlignment
    var dataOffset = 0
}

/// Parses GGUF versions 2 and 3 from bytes that are already in memory.
/// Throws `GGUFError` on anything truncated, inconsistent or above `GGUFLimits`; never reads out of bounds.
enum GGUFParser {
    static let magic: UInt32 = 0x4655_4747  // "GGUF" read as little-endian

    static func parse(base: UnsafeRawPointer, size: Int) throws(GGUFError) -> GGUFHeader {
        var cursor = GGUFCursor(base: base, size: size)
        var header = GGUFHeader()

        let magic = try cursor.u32("magic")
        guard magic == Self.magic else { throw .badMagic(found: magic) }
        header.version = try cursor.u32("version")
        guard header.version == 2 || header.version == 3 else { throw .unsupportedVersion(header.version) }

        let tensorCountOffset = cursor.offset
        let tensorCount = try cursor.u64("tensor count")
        let metadataCountOffset = cursor.offset
        let metadataCount = try cursor.u64("metadata count")
        // A tensor entry takes at least 24 bytes and a metadata entry at least 13, so the file size bounds both.
        try checkCount(tensorCount, "tensor count", entries: "tensor directory entries", limit: GGUFLimits.maxTensorCount,
                       minimumSize: 24, cursor: cursor, offset: tensorCountOffset)
        try checkCount(metadataCount, "metadata count", entries: "metadata entries", limit: GGUFLimits.maxMetadataCount,
                       minimumSize: 13, cursor: cursor, offset: metadataCountOffset)

        var budget = GGUFLimits.maxTotalArrayElements
        header.metadataKeys.reserveCapacity(Int(metadataCount))
        header.metadata.reserveCapacity(Int(metadataCount))
        for index in 0..<Int(metadataCount) {
            let keyOffset = cursor.offset
            let key = try cursor.string(maxLength: GGUFLimits.maxKeyLength, "key of metadata entry \(index)")
            let type = try cursor.u32("value type of '\(key)'")
            let value = try readValue(type: type, key: key, cursor: &cursor, depth: 0, budget: &budget)
            guard header.metadata.updateValue(value, forKey: key) == nil else {
                throw .duplicateKey(key, offset: keyOffset)
            }
            header.metadataKeys.append(key)
        }

        if let value = header.metadata["general.alignment"] {
            guard let alignment = value.intValue, alignment > 0, alignment <= GGUFLimits.maxAlignment,
                  alignment & (alignment - 1) == 0 else {
                throw .invalidValue(key: "general.alignment",
                                    reason: "must be a power of two up to \(GGUFLimits.maxAlignment), found \(value)",
                                    offset: 0)
            }
            header.alignment = alignment
        }

        var infos: [TensorEntry] = []
        infos.reserveCapacity(Int(tensorCount))
        for index in 0..<Int(tensorCount) {
            let entryOffset = cursor.offset
            let entry = try readTensorEntry(index: index, alignment: header.alignment, cursor: &cursor)
            guard header.tensorIndex.updateValue(index, forKey: entry.name) == nil else {
                throw .duplicateTensor(entry.name, offset: entryOffset)
            }
            infos.append(entry)
        }

        guard let dataOffset = cursor.aligned(cursor.offset, to: header.alignment) else {
            throw .truncated(what: "tensor data", offset: cursor.offset, needed: header.alignment, fileSize: size)
        }
        header.dataOffset = dataOffset
        header.tensors.reserveCapacity(infos.count)
        for info in infos {
            let (start, startOverflow) = dataOffset.addingReportingOverflow(info.relative)
            let (end, endOverflow) = start.addingReportingOverflow(info.bytes)
            guard !startOverflow, !endOverflow, end <= size else {
                throw .invalidTensor(name: info.name,
                                     reason: "data [\(info.relative), +\(info.bytes)) after the data section at \(dataOffset) runs past the end of the file (\(size) bytes)")
            }
            header.tensors.append(GGUFTensorInfo(name: info.name, dimensions: info.dims, type: info.type,
                                                 offset: start, byteCount: info.bytes, elementCount: info.elements))
        }
        return header
    }

    /// One tensor directory entry, its data offset still relative to the data section.
    private struct TensorEntry {
        var name: String
        var dims: [Int]
        var type: GGMLType
        var relative: Int
        var elements: Int
        var bytes: Int
    }

    private static func readTensorEntry(index: Int, alignment: Int, cursor: inout GGUFCursor) throws(GGUFError) -> TensorEntry {
        let name = try cursor.string(maxLength: GGUFLimits.maxKeyLength, "name of tensor \(index)")
        let dimsOffset = cursor.offset
        let dimCount = try cursor.u32("dimension count of tensor '\(name)'")
        guard dimCount <= UInt32(GGUFLimits.maxDimensions) else {
            throw .limitExceeded(what: "dimension count of tensor '\(name)'", value: UInt64(dimCount),
                                 limit: UInt64(GGUFLimits.maxDimensions), offset: dimsOffset)
        }
        var dims: [Int] = []
        dims.reserveCapacity(Int(dimCount))
        var elements = 1
        for axis in 0..<Int(dimCount) {
            let raw = try cursor.u64("dimension \(axis) of tensor '\(name)'")
            guard let dim = Int(exactly: raw) else {
                throw .invalidTensor(name: name, reason: "dimension \(axis) is \(raw), too large")
            }
            let (product, overflow) = elements.multipliedReportingOverflow(by: dim)
            guard !overflow else {
                throw .invalidTensor(name: name, reason: "element count overflows (dimensions so far \(dims + [dim]))")
            }
            elements = product
            dims.append(dim)
        }
        let typeID = try cursor.u32("type of tensor '\(name)'")
        guard let type = GGMLType(rawValue: typeID) else { throw .unsupportedTensorType(name: name, id: typeID) }
        let rawOffset = try cursor.u64("data offset of tensor '\(name)'")

        let rowLength = dims.first ?? 1
        guard rowLength % type.blockSize == 0 else {
            throw .invalidTensor(name: name, reason: "first dimension \(rowLength) is not a multiple of the \(type) block size \(type.blockSize)")
        }
        let (bytes, bytesOverflow) = (elements / type.blockSize).multipliedReportingOverflow(by: type.bytesPerBlock)
        guard !bytesOverflow else { throw .invalidTensor(name: name, reason: "byte size overflows") }
        guard let relative = Int(exactly: rawOffset), relative % alignment == 0 else {
            throw .invalidTensor(name: name, reason: "data offset \(rawOffset) is not a multiple of the alignment \(alignment)")
        }
        return TensorEntry(name: name, dims: dims, type: type, relative: relative, elements: elements, bytes: bytes)
    }

    /// A count must be under its cap, and `count × minimumSize` bytes must still be in the file.
    private static func checkCount(_ count: UInt64, _ what: String, entries: String, limit: Int, minimumSize: Int,
                                   cursor: GGUFCursor, offset: Int) throws(GGUFError) {
        if count > UInt64(limit) {
            throw .limitExceeded(what: what, value: count, limit: UInt64(limit), offset: offset)
        }
        let needed = Int(count) * minimumSize  // both small: count ≤ 2^22, size ≤ 24
        if needed > cursor.remaining {
            throw .truncated(what: "\(count) \(entries) (\(what) at offset \(offset); at least \(minimumSize) bytes each)",
                             offset: cursor.offset, needed: needed, fileSize: cursor.size)
        }
    }

    /// Smallest number of bytes one value of a GGUF type id can take, or nil for an unknown id.
    private static func minimumSize(ofType type: UInt32) -> Int? {
        switch type {
        case 0, 1, 7: return 1
        case 2, 3: return 2
        case 4, 5, 6: return 4
        case 10, 11, 12: return 8
        case 8: return 8      // string: its u64 length
        case 9: return 12     // array: element type and count
        default: return nil
        }
    }

    private static func readValue(type: UInt32, key: String, cursor: inout GGUFCursor, depth: Int,
                                  budget: inout Int) throws(GGUFError) -> GGUFValue {
        let start = cursor.offset
        switch type {
        case 0: return .uint8(try cursor.u8("value of '\(key)'"))
        case 1: return .int8(Int8(bitPattern: try cursor.u8("value of '\(key)'")))
        case 2: return .uint16(try cursor.read(UInt16.self, "value of '\(key)'"))
        case 3: return .int16(try cursor.read(Int16.self, "value of '\(key)'"))
        case 4: return .uint32(try cursor.u32("value of '\(key)'"))
        case 5: return .int32(try cursor.read(Int32.self, "value of '\(key)'"))
        case 6: return .float32(Float(bitPattern: try cursor.u32("value of '\(key)'")))
        case 7:
            let byte = try cursor.u8("value of '\(key)'")
            guard byte <= 1 else { throw .invalidValue(key: key, reason: "bool byte is \(byte), not 0 or 1", offset: start) }
            return .bool(byte == 1)
        case 8: return .string(try cursor.string(maxLength: GGUFLimits.maxStringLength, "value of '\(key)'"))
        case 9:
            guard depth < GGUFLimits.maxArrayDepth else {
                throw .limitExceeded(what: "array nesting of '\(key)'", value: UInt64(depth + 1),
                                     limit: UInt64(GGUFLimits.maxArrayDepth), offset: start)
            }
            let elementType = try cursor.u32("array element type of '\(key)'")
            guard let elementSize = minimumSize(ofType: elementType) else {
                throw .invalidValueType(key: key, type: elementType, offset: start)
            }
            let countOffset = cursor.offset
            let count = try cursor.u64("array length of '\(key)'")
            try checkCount(count, "array length of '\(key)'", entries: "elements of '\(key)'", limit: min(GGUFLimits.maxArrayLength, budget),
                           minimumSize: elementSize, cursor: cursor, offset: countOffset)
            budget -= Int(count)
            if elementType == 8 { return .array(try readStrings(count: Int(count), key: key, cursor: &cursor)) }
            var values: [GGUFValue] = []
            values.reserveCapacity(Int(count))
            for _ in 0..<Int(count) {
                values.append(try readValue(type: elementType, key: key, cursor: &cursor, depth: depth + 1, budget: &budget))
            }
            return .array(values)
        case 10: return .uint64(try cursor.u64("value of '\(key)'"))
        case 11: return .int64(try cursor.read(Int64.self, "value of '\(key)'"))
        case 12: return .float64(Double(bitPattern: try cursor.u64("value of '\(key)'")))
        default: throw .invalidValueType(key: key, type: type, offset: start)
        }
    }

    /// The fast path for string arrays (vocabularies, merges): one tight loop, no per-element dispatch.
    private static func readStrings(count: Int, key: String, cursor: inout GGUFCursor) throws(GGUFError) -> [GGUFValue] {
        var values: [GGUFValue] = []
        values.reserveCapacity(count)
        for index in 0..<count {
            let start = cursor.offset
            guard cursor.remaining >= 8 else {
                throw .truncated(what: "length of element \(index) of '\(key)'", offset: start, needed: 8, fileSize: cursor.size)
            }
            let length = UInt64(littleEndian: cursor.base.loadUnaligned(fromByteOffset: start, as: UInt64.self))
            guard length <= UInt64(GGUFLimits.maxStringLength) else {
                throw .limitExceeded(what: "length of element \(index) of '\(key)'", value: length,
                                     limit: UInt64(GGUFLimits.maxStringLength), offset: start)
            }
            guard length <= UInt64(cursor.remaining - 8) else {
                throw .truncated(what: "element \(index) of '\(key)'", offset: start + 8, needed: Int(length),
                                 fileSize: cursor.size)
            }
            let bytes = UnsafeRawBufferPointer(start: cursor.base + start + 8, count: Int(length))
            values.append(.string(String(decoding: bytes, as: UTF8.self)))
            cursor.offset = start + 8 + Int(length)
        }
        return values
    }
}
