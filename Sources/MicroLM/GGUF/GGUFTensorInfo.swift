/// Where one tensor lies in a GGUF file, already checked against the file's size.
public struct GGUFTensorInfo: Sendable, Equatable {
    public let name: String
    /// GGUF order: `ne0` (the fastest-moving, the "in" dimension of a matrix) first.
    public let dimensions: [Int]
    public let type: GGMLType
    /// Absolute byte offset of the first element in the file.
    public let offset: Int
    /// Bytes the tensor takes (`elementCount / type.blockSize * type.bytesPerBlock`).
    public let byteCount: Int
    public let elementCount: Int

    public init(name: String, dimensions: [Int], type: GGMLType, offset: Int, byteCount: Int, elementCount: Int) {
        self.name = name
        self.dimensions = dimensions
        self.type = type
        self.offset = offset
        self.byteCount = byteCount
        self.elementCount = elementCount
    }

    /// Rows of a matrix as ggml sees it: the product of every dimension but the first.
    public var rowCount: Int { dimensions.count > 1 ? elementCount / max(dimensions[0], 1) : 1 }
}
