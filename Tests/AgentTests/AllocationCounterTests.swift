import Foundation
import Testing
import VigilTestSupport

/// The agent's binary carries no allocation counter: `vigil bench detect` counts allocations only
/// in a re-run of itself with libVigilAllocationCounter.so preloaded.
@Suite("Allocation counter out of the agent")
struct AllocationCounterTests {
    func benchDetect(environment extra: [String: String]) throws -> String? {
        guard let binary = DeployRestartTests.vigilBinary else {
            print("skipped: no vigil executable next to the tests (swift build --product vigil, or set VIGIL_BINARY)")
            return nil
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["bench", "detect", "--readings", "20000", "--catalog", RepositoryPaths.file("sensors/plant.yaml")]
        var environment = ProcessInfo.processInfo.environment
        environment.removeValue(forKey: "LD_PRELOAD")
        for (k, v) in extra { environment[k] = v }
        process.environment = environment
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(output)")
        return output
    }

    /// The allocs/reading column of the full suite's row.
    func fullSuiteAllocations(_ output: String) -> String? {
        guard let row = output.split(separator: "\n").first(where: { $0.hasPrefix("full suite") }) else { return nil }
        let fields = row.split(separator: " ")
        return fields.count > 7 ? String(fields[7]) : nil
    }

    @Test func theBinaryAloneCountsNothing() throws {
        // Told it is the re-run already, the process has only what vigil links: no counter.
        guard let output = try benchDetect(environment: ["VIGIL_ALLOCATION_COUNTER_PRELOADED": "1"]) else { return }
        #expect(output.contains("heap allocations not counted"), "\(output)")
        #expect(fullSuiteAllocations(output) == "-", "\(output)")
    }

    @Test func theBenchCountsInAPreloadedRerun() throws {
        guard let output = try benchDetect(environment: [:]) else { return }
        #expect(!output.contains("not counted"), "\(output)")
        let allocations = try #require(fullSuiteAllocations(output), "\(output)")
        #expect(Double(allocations) != nil, "allocs/reading \(allocations): \(output)")
    }
}
