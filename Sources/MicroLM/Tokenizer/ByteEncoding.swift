/// GPT-2's reversible mapping between bytes and printable Unicode characters, which byte-level BPE
/// vocabularies are written in: printable Latin-1 bytes stand for themselves, the other 68 bytes
/// (controls, space, 0x7F–0xA0, 0xAD) map in order to U+0100, U+0101, ...
enum ByteEncoding {
    /// The code point that stands for each byte.
    static let scalarForByte: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 256)
        var next: UInt32 = 256
        for byte in 0..<256 {
            if standsForItself(byte) {
                table[byte] = UInt32(byte)
            } else {
                table[byte] = next
                next += 1
            }
        }
        return table
    }()

    /// The byte a code point stands for, or nil for a code point outside the mapping.
    static func byte(for scalar: UInt32) -> UInt8? {
        if scalar < 256 { return standsForItself(Int(scalar)) ? UInt8(scalar) : nil }
        if scalar < 256 + 68 { return byteForShifted[Int(scalar - 256)] }
        return nil
    }

    private static let byteForShifted: [UInt8] = {
        (0..<256).filter { !standsForItself($0) }.map { UInt8($0) }
    }()

    private static func standsForItself(_ byte: Int) -> Bool {
        (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte)
    }

    /// The vocabulary spelling of raw bytes (`" hello"` → `"Ġhello"`).
    static func encode<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> String {
        var text = String.UnicodeScalarView()
        for byte in bytes {
            if let scalar = Unicode.Scalar(scalarForByte[Int(byte)]) { text.append(scalar) }
        }
        return String(text)
    }
}
