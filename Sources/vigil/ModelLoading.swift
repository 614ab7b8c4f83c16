import ArgumentParser
import Logging
import Narration

enum ModelLoading {
    /// The narration model at `path`, or a clear error.
    static func load(path: String, adapter: String? = nil, threads: Int, logger: Logger) throws -> (any NarrationModel)? {
        do { return try MicroLMNarrationModel.load(path: path, adapter: adapter, threads: threads, logger: logger) } catch {
            throw ValidationError("Cannot load the model \(path)\(adapter.map { " with the adapter \($0)" } ?? ""): \(error)")
        }
    }
}
