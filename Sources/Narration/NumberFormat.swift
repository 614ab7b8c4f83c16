import Telemetry

/// Vigil's own number formatting: fixed decimals, no grouping, no locale, no `-0`.
public enum NumberFormat {
    public static func fixed(_ value: Double, decimals: Int) -> String {
        let d = max(0, min(decimals, 6))
        guard value.isFinite else { return "0" }
        let value = min(max(value, -1e12), 1e12)   // beyond any sensor: clamp rather than overflow
        var scale = 1.0
        for _ in 0..<d { scale *= 10 }
        let scaled = (abs(value) * scale).rounded()
        let n = Int64(scaled)
        let negative = value < 0 && n != 0
        var digits = String(n)
        if d > 0 {
            if digits.count <= d { digits = String(repeating: "0", count: d - digits.count + 1) + digits }
            digits.insert(".", at: digits.index(digits.endIndex, offsetBy: -d))
        }
        return negative ? "-" + digits : digits
    }

    /// `03:12:05 UTC`.
    public static func clockTime(_ millis: Int64) -> String {
        let iso = Timestamp.rfc3339(millis)   // 2026-03-01T03:12:05.250Z
        let chars = Array(iso)
        guard chars.count >= 19 else { return iso }
        return String(chars[11..<19]) + " UTC"
    }

    /// A duration as one number and unit: seconds under two minutes, minutes under two hours, else hours.
    public static func duration(_ seconds: Double) -> FactNumber {
        let s = seconds.isFinite ? max(0, seconds) : 0
        if s < 120 { return FactNumber(role: .duration, sensor: nil, value: s, decimals: 0, unit: "s") }
        if s < 7200 { return FactNumber(role: .duration, sensor: nil, value: s / 60, decimals: 0, unit: "min") }
        return FactNumber(role: .duration, sensor: nil, value: s / 3600, decimals: 1, unit: "h")
    }
}
