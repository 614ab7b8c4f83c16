/// Typed access to metadata. Each helper returns nil when the key is missing or holds another type.
extension GGUFFile {
    /// An integer of any width whose value fits in `Int`.
    public func int(_ key: String) -> Int? { metadata[key]?.intValue }

    /// A float32 or float64 (integers are converted too).
    public func double(_ key: String) -> Double? { metadata[key]?.doubleValue }

    /// `double(key)` as a `Float`.
    public func float(_ key: String) -> Float? { double(key).map(Float.init) }

    public func string(_ key: String) -> String? { metadata[key]?.stringValue }

    public func bool(_ key: String) -> Bool? { metadata[key]?.boolValue }

    /// An array of strings (a vocabulary, merges); nil if any element is not a string.
    public func stringArray(_ key: String) -> [String]? {
        guard let values = metadata[key]?.arrayValue else { return nil }
        var strings: [String] = []
        strings.reserveCapacity(values.count)
        for value in values {
            guard case let .string(s) = value else { return nil }
            strings.append(s)
        }
        return strings
    }

    /// An array of integers of any width; nil if any element is not an integer that fits in `Int`.
    public func intArray(_ key: String) -> [Int]? {
        guard let values = metadata[key]?.arrayValue else { return nil }
        var ints: [Int] = []
        ints.reserveCapacity(values.count)
        for value in values {
            guard let v = value.intValue else { return nil }
            ints.append(v)
        }
        return ints
    }

    /// An array of numbers as `Float`; nil if any element is not a number.
    public func floatArray(_ key: String) -> [Float]? {
        guard let values = metadata[key]?.arrayValue else { return nil }
        var floats: [Float] = []
        floats.reserveCapacity(values.count)
        for value in values {
            guard let v = value.doubleValue else { return nil }
            floats.append(Float(v))
        }
        return floats
    }

    /// `general.architecture` (for example `llama`).
    public var architecture: String? { string("general.architecture") }

    /// A key of the model's architecture: `archKey("block_count")` reads `llama.block_count`.
    public func archKey(_ suffix: String) -> String { "\(architecture ?? "llama").\(suffix)" }

    // MARK: Required values, for model loaders

    /// The tensor called `name`, or `GGUFError.missingTensor`.
    public func requiredTensor(named name: String) throws(GGUFError) -> GGUFTensorInfo {
        guard let tensor = tensor(named: name) else { throw .missingTensor(name) }
        return tensor
    }

    /// `int(key)`, or `GGUFError.missingMetadata`.
    public func requiredInt(_ key: String) throws(GGUFError) -> Int {
        guard let value = int(key) else { throw .missingMetadata(key: key, expected: "an integer") }
        return value
    }

    /// `float(key)`, or `GGUFError.missingMetadata`.
    public func requiredFloat(_ key: String) throws(GGUFError) -> Float {
        guard let value = float(key) else { throw .missingMetadata(key: key, expected: "a number") }
        return value
    }

    /// `string(key)`, or `GGUFError.missingMetadata`.
    public func requiredString(_ key: String) throws(GGUFError) -> String {
        guard let value = string(key) else { throw .missingMetadata(key: key, expected: "a string") }
        return value
    }
}
