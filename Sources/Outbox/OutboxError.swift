/// Errors of the Outbox module.
public enum OutboxError: Error, CustomStringConvertible, Equatable {
    /// A configuration value is out of range; the text names the key and what was expected.
    case invalidConfiguration(String)
    /// The database could not be opened or created, even as a new file (permissions, missing
    /// folder, disk full). A damaged file never ends here: it is moved aside instead.
    case cannotOpen(path: String, reason: String)
    /// A database operation failed (the text carries SQLite's message).
    case storage(String)
    /// The outbox was closed.
    case closed

    public var description: String {
        switch self {
        case .invalidConfiguration(let text): "invalid outbox configuration: \(text)"
        case .cannotOpen(let path, let reason): "cannot open outbox database \(path): \(reason)"
        case .storage(let text): "outbox storage error: \(text)"
        case .closed: "the outbox is closed"
        }
    }
}
