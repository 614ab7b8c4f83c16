import Foundation
import MicroLM
import Testing

/// Where the tests find the default model and the golden files; nil (and the test skips) when absent.
enum TestResources {
    /// The repository root, from this file's path (Tests/MicroLMTests/<file>).
    static let repoRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let modelFileName = "SmolLM2-135M-Instruct.Q4_1.gguf"

    /// `$VIGIL_MODEL`, else `<repo>/models/SmolLM2-135M-Instruct.Q4_1.gguf`.
    static var modelPath: String? {
        if let env = ProcessInfo.processInfo.environment["VIGIL_MODEL"], !env.isEmpty,
           FileManager.default.fileExists(atPath: env) {
            return env
        }
        let path = repoRoot.appendingPathComponent("models").appendingPathComponent(modelFileName).path
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }

    static let modelMissing: Comment = "model absent: set VIGIL_MODEL or run deploy/provision-model.sh"

    /// `<repo>/../shared/golden/smollm2/<name>`.
    static func golden(_ name: String) -> URL? {
        let url = repoRoot.deletingLastPathComponent()
            .appendingPathComponent("shared/golden/smollm2").appendingPathComponent(name)
        return FileManager.default.fileExists(atPath: url.path) ? url : nil
    }

    /// The model opened once for all tests of the process.
    static let model: GGUFFile? = modelPath.flatMap { try? GGUFFile.open(path: $0) }
}

/// A temporary directory removed when the value goes away.
final class TempDir {
    let url: URL
    init() throws {
        // Memory-backed when the system has it: the fuzz tests write thousands of small files.
        var isDirectory: ObjCBool = false
        let shm = FileManager.default.fileExists(atPath: "/dev/shm", isDirectory: &isDirectory) && isDirectory.boolValue
            && FileManager.default.isWritableFile(atPath: "/dev/shm")
        let parent = shm ? URL(fileURLWithPath: "/dev/shm") : FileManager.default.temporaryDirectory
        url = parent.appendingPathComponent("microlm-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    func file(_ name: String) -> String { url.appendingPathComponent(name).path }
    deinit { try? FileManager.default.removeItem(at: url) }
}
