import Telemetry

/// A configuration key that an earlier release spelled differently. A file that still uses the old
/// name is refused with its line and the new name, never silently ignored or half-read.
public struct RenamedConfigurationKey: Sendable, Equatable {
    /// The dotted key path the old release read, e.g. `ingest.silence_timeout`.
    public var old: String
    /// The dotted key path that replaces it, e.g. `ingest.silent_after`.
    public var new: String
    /// The release that renamed it.
    public var release: String

    public init(old: String, new: String, release: String) {
        self.old = old
        self.new = new
        self.release = release
    }

    /// The table in force while a file is decoded.
    @TaskLocal static var table: [RenamedConfigurationKey] = AgentConfiguration.renamedKeys
}

extension AgentConfiguration {
    /// Keys renamed since release 0.1.0 (the first release; none so far). Add one here whenever a key
    /// is renamed, and keep the old release's example as a test fixture (Tests/AgentTests/Fixtures).
    public static let renamedKeys: [RenamedConfigurationKey] = []
}

extension ConfigNode {
    /// Like `rejectUnknownKeys`, but a key of an earlier release is named with its replacement.
    func rejectKeys(allowing allowed: Set<String>) throws {
        let renames = RenamedConfigurationKey.table
        if !renames.isEmpty {
            for (key, value) in try entries() where !allowed.contains(key) {
                let full = path.isEmpty ? key : "\(path).\(key)"
                if let rename = renames.first(where: { $0.old == full }) {
                    throw value.error(
                        "`\(rename.old)` was renamed to `\(rename.new)` in vigil \(rename.release); rename the key (its meaning is unchanged)")
                }
            }
        }
        try rejectUnknownKeys(allowed)
    }
}
