import Foundation
import Testing
import VigilTestSupport

/// The agent's binary carries no allocation counter: `vigil bench detect` counts allocations only
/// in a re-run of itself with libVigilAllocationCounter.so preloaded.
@Suite("Allocation counter out of the agent")
struct AllocationCounterTests {
    func benchDetect(environment extra: [String: String]) throws -> String? {
        var environment = extra
        if environment["LD_PRELOAD"] == nil { environment["LD_PRELOAD"] = "" }
        guard let (status, output) = try DeployRestartTests.runVigil(
            ["bench", "detect", "--readings", "20000", "--catalog", RepositoryPaths.file("sensors/plant.yaml")],
            environment: environment) else { return nil }
        #expect(status == 0, "\(output)")
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
