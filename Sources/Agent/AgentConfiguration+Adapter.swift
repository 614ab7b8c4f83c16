import Foundation
import MicroLM
import Telemetry

/// `narration.adapter`: the narration LoRA adapter applied on top of the model (tools/narration-train).
/// The file must have the pinned SHA-256 (`ModelLocator.narrationAdapterSHA256`, the committed adapter)
/// or the one `narration.adapter_sha256` gives; `check-config` refuses another file, `run` logs the
/// error and narrates with the template (never a crash, never unverified text). With an adapter the
/// model gets the prompt it was trained on (`tuned`: no few-shot prefix).
public struct NarrationAdapterSettings: Sendable, Equatable {
    public var path: String
    public var sha256: String = ModelLocator.narrationAdapterSHA256

    public init(path: String) {
        self.path = path
    }

    static let keys: Set<String> = ["adapter", "adapter_sha256"]

    /// From the `narration` mapping; nil without `adapter`.
    static func decode(_ narration: ConfigNode, resolve: (String) -> String) throws -> NarrationAdapterSettings? {
        let digestNode = narration["adapter_sha256"]
        guard let node = narration["adapter"] else {
            if let digestNode { throw digestNode.error("`adapter_sha256` needs `adapter`, the adapter file it is the digest of") }
            return nil
        }
        let path = try node.string()
        guard !path.isEmpty else { throw node.error("expected the path of a GGUF LoRA adapter file") }
        var settings = NarrationAdapterSettings(path: resolve(path))
        if let digestNode {
            let digest = try digestNode.string().lowercased()
            guard digest.count == 64, digest.allSatisfy(\.isHexDigit) else {
                throw digestNode.error("expected the adapter file's SHA-256 as 64 hexadecimal digits (`sha256sum FILE`)")
            }
            settings.sha256 = digest
        }
        return settings
    }
}

extension AgentConfiguration {
    /// Checks that the configured adapter is the expected file: readable, GGUF, with the expected SHA-256.
    /// (Its tensors are checked against the model when it loads.)
    public func checkAdapterFile(_ adapter: NarrationAdapterSettings) throws {
        let path = adapter.path
        let redo = "use the adapter deploy/provision-adapter.sh trains into models/, or set narration.adapter_sha256 to this file's digest if you trained another one"
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw AgentError("\(file): narration.adapter `\(path)`: cannot read the file")
        }
        let head = (try? handle.read(upToCount: 4)) ?? Data()
        try? handle.close()
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        if size == 0 { throw AgentError("\(file): narration.adapter `\(path)`: the file is empty; \(redo)") }
        if head != Data("GGUF".utf8) {
            throw AgentError("\(file): narration.adapter `\(path)`: not a GGUF file (\(size) bytes, no GGUF magic); \(redo)")
        }
        let digest = try SHA256.hexDigest(ofFileAt: path)
        guard digest == adapter.sha256 else {
            throw AgentError("\(file): narration.adapter `\(path)`: SHA-256 \(digest) (\(size) bytes) is not the expected \(adapter.sha256): a damaged, altered or different file; \(redo)")
        }
    }
}
