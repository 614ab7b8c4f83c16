/// The element type of a tensor, with ggml's numeric ids.
///
/// Quantized types store elements in blocks: `blockSize` elements take `bytesPerBlock` bytes.
/// Ids that ggml retired (4, 5, 31–33, 36–38) are not listed; a file that uses one is refused.
public enum GGMLType: UInt32, Sendable, CaseIterable, CustomStringConvertible {
    case f32 = 0
    case f16 = 1
    case q4_0 = 2
    case q4_1 = 3
    case q5_0 = 6
    case q5_1 = 7
    case q8_0 = 8
    case q8_1 = 9
    case q2_K = 10
    case q3_K = 11
    case q4_K = 12
    case q5_K = 13
    case q6_K = 14
    case q8_K = 15
    case iq2_xxs = 16
    case iq2_xs = 17
    case iq3_xxs = 18
    case iq1_s = 19
    case iq4_nl = 20
    case iq3_s = 21
    case iq2_s = 22
    case iq4_xs = 23
    case i8 = 24
    case i16 = 25
    case i32 = 26
    case i64 = 27
    case f64 = 28
    case iq1_m = 29
    case bf16 = 30
    case tq1_0 = 34
    case tq2_0 = 35
    case mxfp4 = 39

    /// Elements per block (1 for plain scalar types).
    public var blockSize: Int {
        switch self {
        case .f32, .f16, .bf16, .f64, .i8, .i16, .i32, .i64: return 1
        case .q4_0, .q4_1, .q5_0, .q5_1, .q8_0, .q8_1, .iq4_nl, .mxfp4: return 32
        case .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .q8_K,
             .iq2_xxs, .iq2_xs, .iq3_xxs, .iq1_s, .iq3_s, .iq2_s, .iq4_xs, .iq1_m,
             .tq1_0, .tq2_0:
            return 256
        }
    }

    /// Bytes taken by one block of `blockSize` elements (the layouts of ggml-common.h).
    public var bytesPerBlock: Int {
        switch self {
        case .f32: return 4
        case .f16, .bf16: return 2
        case .f64, .i64: return 8
        case .i8: return 1
        case .i16: return 2
        case .i32: return 4
        case .q4_0: return 18      // f16 d, 16 bytes of nibbles
        case .q4_1: return 20      // f16 d, f16 m, 16 bytes of nibbles
        case .q5_0: return 22      // f16 d, 4 bytes high bits, 16 bytes of nibbles
        case .q5_1: return 24      // f16 d, f16 m, 4 bytes high bits, 16 bytes of nibbles
        case .q8_0: return 34      // f16 d, 32 int8
        case .q8_1: return 36      // f16 d, f16 s, 32 int8
        case .q2_K: return 84
        case .q3_K: return 110
        case .q4_K: return 144
        case .q5_K: return 176
        case .q6_K: return 210
        case .q8_K: return 292
        case .iq2_xxs: return 66
        case .iq2_xs: return 74
        case .iq3_xxs: return 98
        case .iq1_s: return 50
        case .iq4_nl: return 18
        case .iq3_s: return 110
        case .iq2_s: return 82
        case .iq4_xs: return 136
        case .iq1_m: return 56
        case .tq1_0: return 54
        case .tq2_0: return 66
        case .mxfp4: return 17
        }
    }

    /// ggml's name of the type (`q4_1`, `q6_K`, `bf16`, ...).
    public var description: String {
        switch self {
        case .f32: return "f32"
        case .f16: return "f16"
        case .q4_0: return "q4_0"
        case .q4_1: return "q4_1"
        case .q5_0: return "q5_0"
        case .q5_1: return "q5_1"
        case .q8_0: return "q8_0"
        case .q8_1: return "q8_1"
        case .q2_K: return "q2_K"
        case .q3_K: return "q3_K"
        case .q4_K: return "q4_K"
        case .q5_K: return "q5_K"
        case .q6_K: return "q6_K"
        case .q8_K: return "q8_K"
        case .iq2_xxs: return "iq2_xxs"
        case .iq2_xs: return "iq2_xs"
        case .iq3_xxs: return "iq3_xxs"
        case .iq1_s: return "iq1_s"
        case .iq4_nl: return "iq4_nl"
        case .iq3_s: return "iq3_s"
        case .iq2_s: return "iq2_s"
        case .iq4_xs: return "iq4_xs"
        case .i8: return "i8"
        case .i16: return "i16"
        case .i32: return "i32"
        case .i64: return "i64"
        case .f64: return "f64"
        case .iq1_m: return "iq1_m"
        case .bf16: return "bf16"
        case .tq1_0: return "tq1_0"
        case .tq2_0: return "tq2_0"
        case .mxfp4: return "mxfp4"
        }
    }
}
