import ArgumentParser
import Logging
import Narration

enum ModelLoading {
    /// The narration model at `path`, or a clear error.
    static func load(path: String, threads: Int, logger: Logger) throws -> (any NarrationModel)? {
        do { return try MicroLMNarrationModel.load(path: path, threads: threads, logger: logger) } catch {
            throw ValidationError("Cannot load the model \(path): \(error)")
        }
    }
}
