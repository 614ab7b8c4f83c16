/// One metadata value of a GGUF file, with the type the file gave it.
public enum GGUFValue: Sendable, Equatable {
    case uint8(UInt8)
    case int8(Int8)
    case uint16(UInt16)
    case int16(Int16)
    case uint32(UInt32)
    case int32(Int32)
    case uint64(UInt64)
    case int64(Int64)
    case float32(Float)
    case float64(Double)
    case bool(Bool)
    case string(String)
    /// A homogeneous array; `elementType` of an empty array is lost, as the values carry their own types.
    case array([GGUFValue])

    /// The value as an `Int`, for any integer type whose value fits.
    public var intValue: Int? {
        switch self {
        case let .uint8(v): return Int(v)
        case let .int8(v): return Int(v)
        case let .uint16(v): return Int(v)
        case let .int16(v): return Int(v)
        case let .uint32(v): return Int(v)
        case let .int32(v): return Int(v)
        case let .uint64(v): return Int(exactly: v)
        case let .int64(v): return Int(exactly: v)
        default: return nil
        }
    }

    /// The value as a `Double`, for float types and integers.
    public var doubleValue: Double? {
        switch self {
        case let .float32(v): return Double(v)
        case let .float64(v): return v
        default: return intValue.map(Double.init)
        }
    }

    public var stringValue: String? {
        if case let .string(s) = self { return s }
        return nil
    }

    public var boolValue: Bool? {
        if case let .bool(b) = self { return b }
        return nil
    }

    public var arrayValue: [GGUFValue]? {
        if case let .array(a) = self { return a }
        return nil
    }

    /// The GGUF name of the value's type (`u32`, `str`, `arr[str]` ...), for printing.
    public var typeName: String {
        switch self {
        case .uint8: return "u8"
        case .int8: return "i8"
        case .uint16: return "u16"
        case .int16: return "i16"
        case .uint32: return "u32"
        case .int32: return "i32"
        case .uint64: return "u64"
        case .int64: return "i64"
        case .float32: return "f32"
        case .float64: return "f64"
        case .bool: return "bool"
        case .string: return "str"
        case let .array(values): return "arr[\(values.first?.typeName ?? "")]"
        }
    }
}
