import Foundation

/// Starting and waiting for child processes with posix_spawn (no run loop needed).
enum MosquittoSpawn {
    struct Failure: Error, CustomStringConvertible {
        let message: String
        var description: String { message }
    }

    /// Starts `path` with `arguments`; stdout and stderr go to `outputFile` (or /dev/null).
    static func start(_ path: String, _ arguments: [String], outputFile: String? = nil, inputFile: String? = nil) throws -> pid_t {
        var fileActions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&fileActions)
        defer { posix_spawn_file_actions_destroy(&fileActions) }
        let output = outputFile ?? "/dev/null"
        posix_spawn_file_actions_addopen(&fileActions, 0, inputFile ?? "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&fileActions, 1, output, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        posix_spawn_file_actions_adddup2(&fileActions, 1, 2)

        // The child must not inherit the caller's blocked signals (Dispatch's worker threads block
        // SIGTERM and friends, and a broker that ignores SIGTERM never stops).
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var emptySet = sigset_t()
        sigemptyset(&emptySet)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        sigdelset(&allSignals, SIGKILL)
        sigdelset(&allSignals, SIGSTOP)
        posix_spawnattr_setsigmask(&attributes, &emptySet)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, path, &fileActions, &attributes, argv, environ)
        guard rc == 0 else {
            throw Failure(message: "cannot start \(path): \(String(cString: strerror(rc)))")
        }
        return pid
    }

    /// Waits for `pid` to end and returns its exit status (128+signal when killed).
    @discardableResult
    static func wait(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { return -1 }
        }
        return exitCode(status)
    }

    /// The exit status if `pid` has ended, else nil.
    static func poll(_ pid: pid_t) -> Int32? {
        var status: Int32 = 0
        let rc = waitpid(pid, &status, WNOHANG)
        return rc == pid ? exitCode(status) : nil
    }

    private static func exitCode(_ status: Int32) -> Int32 {
        let signal = status & 0x7f
        return signal == 0 ? (status >> 8) & 0xff : 128 + signal
    }

    /// Runs a tool to completion; throws with its output when it fails.
    static func run(_ path: String, _ arguments: [String], in directory: TemporaryDirectory) throws {
        let log = directory.file("tool-\(UUID().uuidString).log").path
        let pid = try start(path, arguments, outputFile: log)
        let status = wait(pid)
        let output = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        try? FileManager.default.removeItem(atPath: log)
        guard status == 0 else {
            throw Failure(message: "\(path) \(arguments.joined(separator: " ")) failed with status \(status): \(output)")
        }
    }
}
