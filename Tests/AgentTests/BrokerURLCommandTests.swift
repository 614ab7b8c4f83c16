import Foundation
import Testing

/// Every command that talks to a broker reads `--broker` by the one URL grammar: a URL with user info,
/// `tls://` and options passes (each command then stops at another, deliberately bad option), and a bad
/// URL gets the same error from each.
@Suite("One broker URL grammar in every command")
struct BrokerURLCommandTests {
    /// Each command with an option that makes it stop before it connects.
    static let commands: [[String]] = [
        ["replay", "--qos", "5", "missing.csv"],
        ["record", "--count", "0", "--out", "/nonexistent/x.csv"],
        ["bench", "live", "--readings", "0"],
        ["bench", "outbox", "--events", "0"],
    ]

    func run(_ arguments: [String]) throws -> (status: Int32, output: String)? { try DeployRestartTests.runVigil(arguments) }

    @Test(arguments: ["tls://ops%40site:p%3Ass@[::1]:18883/?version=5", "mqtts://ops:secret@gateway.local?keepAlive=30",
                      "mqtt://ops:secret@broker:1884"])
    func aGoodURLPassesInEveryCommand(url: String) throws {
        for command in Self.commands {
            guard let (status, output) = try run(command + ["--broker", url]) else { return }
            #expect(status != 0, "\(command): \(output)")
            #expect(!output.contains("invalid broker URL") && !output.contains("for '--broker"), "\(command) refused \(url): \(output)")
            #expect(output.hasPrefix("Error: --"), "\(command) did not stop at its bad option: \(output)")
        }
    }

    @Test(arguments: ["mqtt://ops@host:99999", "http://broker:1883", "mqtt://[::1:1883"])
    func aBadURLGetsTheSameErrorFromEveryCommand(url: String) throws {
        var errors = Set<String>()
        for command in Self.commands {
            guard let (status, output) = try run(command + ["--broker", url]) else { return }
            #expect(status != 0)
            let line = output.split(separator: "\n").first.map(String.init) ?? ""
            #expect(line.contains("invalid broker URL"), "\(command): \(output)")
            errors.insert(line)
        }
        #expect(errors.count <= 1, "\(errors)")
    }
}
