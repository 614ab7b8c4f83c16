/// Why a bundle was refused. `reason` is a short stable word (a metric label); `message` says what to do.
public struct BundleError: Error, Sendable, CustomStringConvertible, Equatable {
    public enum Reason: String, Sendable, CaseIterable {
        case unreadable, malformed, truncated, tooLarge = "too_large", badField = "bad_field"
        case unsafePath = "unsafe_path", missingSignature = "missing_signature", badSignature = "bad_signature"
        case untrustedKey = "untrusted_key", missingFile = "missing_file", hashMismatch = "hash_mismatch"
        case sizeMismatch = "size_mismatch", tooNew = "too_new", selfTestFailed = "self_test_failed"
        case notInstalled = "not_installed", io
    }
    public let reason: Reason
    public let message: String
    public init(_ reason: Reason, _ message: String) {
        self.reason = reason
        self.message = message
    }
    public var description: String { "\(message) [\(reason.rawValue)]" }
}
