import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Heap-allocation counting for `vigil bench detect`, without the agent ever carrying it.
///
/// The counter is a shared library of its own (`libVigilAllocationCounter.so`, built beside this
/// executable from Sources/CAllocationCounter) that defines the malloc family and forwards to glibc.
/// `vigil bench detect` re-runs itself with the library in `LD_PRELOAD`; the re-run finds the
/// counter's two functions with `dlsym`. Without the library the benchmark runs and says that
/// allocations were not counted.
enum AllocationCounting {
    static let library = "libVigilAllocationCounter.so"
    /// Set in the re-run, so it never re-runs again.
    static let marker = "VIGIL_ALLOCATION_COUNTER_PRELOADED"

    typealias Functions = (setCounting: @Sendable (Bool) -> Void, count: @Sendable () -> UInt64)

    /// The counter's functions, when the library is loaded into this process.
    static func functions() -> Functions? {
        // A nil handle is RTLD_DEFAULT: every object loaded, the preloaded library first.
        guard let set = dlsym(nil, "vigil_allocation_counting"), let count = dlsym(nil, "vigil_allocation_count") else {
            return nil
        }
        typealias SetFunction = @convention(c) (Int32) -> Void
        typealias CountFunction = @convention(c) () -> UInt64
        let setCounting = unsafeBitCast(set, to: SetFunction.self)
        let counted = unsafeBitCast(count, to: CountFunction.self)
        return (setCounting: { setCounting($0 ? 1 : 0) }, count: { counted() })
    }

    /// Replaces this process with a run of itself that has the counter preloaded, when the library
    /// is beside the executable and this is not that run already. Returns only when it does not.
    static func rerunWithCounter() -> String {
        let environment = ProcessInfo.processInfo.environment
        guard environment[marker] == nil else { return "the counter library did not load in the re-run" }
        guard let executable = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") else {
            return "cannot find this executable (/proc/self/exe)"
        }
        let path = URL(fileURLWithPath: executable).deletingLastPathComponent().appendingPathComponent(library).path
        guard FileManager.default.isReadableFile(atPath: path) else { return "\(library) is not beside \(executable)" }
        let preload = environment["LD_PRELOAD"].map { "\(path):\($0)" } ?? path
        setenv("LD_PRELOAD", preload, 1)
        setenv(marker, "1", 1)
        fflush(nil)
        let arguments = [executable] + CommandLine.arguments.dropFirst()
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) }
        argv.append(nil)
        execv(executable, &argv)
        let reason = String(cString: strerror(errno))
        unsetenv(marker)
        return "cannot re-run with the counter: \(reason)"
    }
}
