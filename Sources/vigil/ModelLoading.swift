import ArgumentParser
import Logging
import Narration

enum ModelLoading {
    static func load(path: String, threads: Int, logger: Logger) throws -> (any NarrationModel)? {
        throw ValidationError("The MicroLM engine is not merged yet; use --template-only.")
    }
}
