/// Where the narration model is looked for.
public enum ModelLocator {
    public static let defaultFile = "SmolLM2-135M-Instruct.Q4_1.gguf"

    /// `$VIGIL_MODEL`, then `./models/…`, then `/var/lib/vigil/models/…`; nil if none exists.
    public static func defaultPath(environment: [String: String], fileExists: (String) -> Bool) -> String? {
        if let p = environment["VIGIL_MODEL"], !p.isEmpty { return p }
        for p in ["models/" + defaultFile, "/var/lib/vigil/models/" + defaultFile] where fileExists(p) { return p }
        return nil
    }
}
