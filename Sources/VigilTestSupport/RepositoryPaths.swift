import Foundation

/// Where the repository and the shared folder beside it are, seen from a test file.
public enum RepositoryPaths {
    /// The repository root, found by walking up from `file` to the folder holding Package.swift.
    public static func root(from file: String = #filePath) -> String {
        var url = URL(fileURLWithPath: file).deletingLastPathComponent()
        while url.path != "/" {
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url.path }
            url.deleteLastPathComponent()
        }
        return FileManager.default.currentDirectoryPath
    }

    /// `../shared/<relative>` beside the repository, or nil when absent.
    public static func shared(_ relative: String, from file: String = #filePath) -> String? {
        let path = URL(fileURLWithPath: root(from: file)).deletingLastPathComponent()
            .appendingPathComponent("shared").appendingPathComponent(relative).path
        return FileManager.default.fileExists(atPath: path) ? path : nil
    }

    /// A file of the repository.
    public static func file(_ relative: String, from file: String = #filePath) -> String {
        root(from: file) + "/" + relative
    }
}
