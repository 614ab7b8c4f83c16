/// Why a GGUF file could not be opened. Every case says what was wrong and where.
public enum GGUFError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file could not be opened, inspected or mapped.
    case cannotOpen(path: String, reason: String)
    /// The file ends before a field that the header says is there.
    case truncated(what: String, offset: Int, needed: Int, fileSize: Int)
    /// The first four bytes are not `GGUF`.
    case badMagic(found: UInt32)
    /// A GGUF version this reader does not understand (it reads 2 and 3).
    case unsupportedVersion(UInt32)
    /// A count or length above the reader's safety cap (or above what the file could hold).
    case limitExceeded(what: String, value: UInt64, limit: UInt64, offset: Int)
    /// A metadata value type id outside the GGUF specification.
    case invalidValueType(key: String, type: UInt32, offset: Int)
    /// A metadata value that is well-formed but not acceptable (for example a bool byte of 7).
    case invalidValue(key: String, reason: String, offset: Int)
    /// The same metadata key appears twice.
    case duplicateKey(String, offset: Int)
    /// The same tensor name appears twice.
    case duplicateTensor(String, offset: Int)
    /// A tensor type id that this reader does not know.
    case unsupportedTensorType(name: String, id: UInt32)
    /// A tensor whose shape, offset or size is inconsistent with its type or with the file.
    case invalidTensor(name: String, reason: String)
    /// A tensor that a model needs is not in the file (`GGUFFile.requiredTensor`).
    case missingTensor(String)
    /// A metadata key that a model needs is absent or has another type (`GGUFFile.requiredInt` ...).
    case missingMetadata(key: String, expected: String)

    public var description: String {
        switch self {
        case let .cannotOpen(path, reason):
            return "cannot open GGUF file '\(path)': \(reason)"
        case let .truncated(what, offset, needed, fileSize):
            return "GGUF file truncated: \(what) at offset \(offset) needs \(needed) bytes, file has \(fileSize)"
        case let .badMagic(found):
            let hex = String(found, radix: 16)
            return "not a GGUF file: magic is 0x\(hex) at offset 0, expected 0x46554747 ('GGUF')"
        case let .unsupportedVersion(version):
            let swapped = version.byteSwapped
            let hint = (swapped == 2 || swapped == 3) ? " (a big-endian GGUF file, which is not supported)" : ""
            return "unsupported GGUF version \(version) at offset 4\(hint); supported: 2, 3"
        case let .limitExceeded(what, value, limit, offset):
            return "GGUF \(what) at offset \(offset) is \(value), above the limit of \(limit)"
        case let .invalidValueType(key, type, offset):
            return "GGUF metadata '\(key)': invalid value type \(type) at offset \(offset)"
        case let .invalidValue(key, reason, offset):
            return "GGUF metadata '\(key)' at offset \(offset): \(reason)"
        case let .duplicateKey(key, offset):
            return "GGUF metadata key '\(key)' appears twice (second at offset \(offset))"
        case let .duplicateTensor(name, offset):
            return "GGUF tensor '\(name)' appears twice (second at offset \(offset))"
        case let .unsupportedTensorType(name, id):
            return "GGUF tensor '\(name)': unsupported tensor type id \(id)"
        case let .invalidTensor(name, reason):
            return "GGUF tensor '\(name)': \(reason)"
        case let .missingTensor(name):
            return "GGUF file has no tensor '\(name)'"
        case let .missingMetadata(key, expected):
            return "GGUF metadata '\(key)' is missing or not \(expected)"
        }
    }
}
