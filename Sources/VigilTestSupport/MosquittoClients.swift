import Foundation

/// The command-line clients of the `mosquitto-clients` package (mosquitto_pub, mosquitto_sub),
/// for tests and benchmarks that compare against them.
public enum MosquittoClients {
    /// `/usr/bin/<name>` when installed, else nil.
    public static func path(_ name: String) -> String? {
        let path = "/usr/bin/\(name)"
        return FileManager.default.isExecutableFile(atPath: path) ? path : nil
    }

    /// Runs `name` (e.g. "mosquitto_sub") to completion and returns its wall time.
    /// Standard input comes from `inputFile` (or /dev/null). Output goes to a temporary file
    /// (quoted when the tool fails), or to /dev/null with `discardOutput`.
    /// Throws `MosquittoUnavailable` when the tool is missing, and an error with its output
    /// when it exits non-zero.
    @discardableResult
    public static func run(
        _ name: String, _ arguments: [String], inputFile: String? = nil, discardOutput: Bool = false
    ) throws -> Duration {
        guard let tool = path(name) else {
            throw MosquittoUnavailable(reason: "\(name) is not installed (apt-get install mosquitto-clients)")
        }
        let directory = try TemporaryDirectory(prefix: "vigil-\(name)")
        let log = directory.file("output").path
        let clock = ContinuousClock()
        let start = clock.now
        let pid = try MosquittoSpawn.start(tool, arguments, outputFile: discardOutput ? "/dev/null" : log, inputFile: inputFile)
        let status = MosquittoSpawn.wait(pid)
        let elapsed = start.duration(to: clock.now)
        guard status == 0 else {
            let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            throw MosquittoBrokerError(message: "\(name) \(arguments.joined(separator: " ")) exited with \(status): \(output.suffix(2000))")
        }
        return elapsed
    }
}
