/// Caps that keep a hostile header from making the reader allocate or loop without bound.
/// Each is far above what a real model needs (the largest vocabularies have about 260,000 tokens).
public enum GGUFLimits {
    public static let maxMetadataCount = 1 << 16
    public static let maxTensorCount = 1 << 20
    public static let maxKeyLength = 1 << 16
    public static let maxStringLength = 1 << 24
    public static let maxArrayLength = 1 << 22
    /// Array elements over the whole file, nested arrays included.
    public static let maxTotalArrayElements = 1 << 23
    public static let maxArrayDepth = 4
    public static let maxDimensions = 4
    public static let maxAlignment = 1 << 16
    public static let defaultAlignment = 32
}
