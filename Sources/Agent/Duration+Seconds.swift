extension Duration {
    /// The duration in seconds, as a floating-point number.
    var inSeconds: Double {
        let (s, attos) = components
        return Double(s) + Double(attos) * 1e-18
    }
}
