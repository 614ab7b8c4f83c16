import Foundation
import Testing
import VigilTestSupport

/// DEPLOY.md's alert one-liner (`mosquitto_sub ... | jq -r '... | @tsv'`) must not pass terminal
/// escapes from a sensor name or alert text to the operator's terminal (`@tsv` escapes only tab,
/// newline, CR and backslash).
@Suite struct DeployOneLinerTests {
    @Test func theAlertOneLinerEscapesControlCharacters() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/jq") else { return }
        let text = try String(contentsOfFile: RepositoryPaths.file("deploy/DEPLOY.md"), encoding: .utf8)
        let line = try #require(text.split(separator: "\n").first { $0.contains("alerts/#") && $0.contains("@tsv") })
        let start = try #require(line.range(of: "jq -r '"))
        let program = String(line[start.upperBound...].dropLast())  // up to the closing quote
        #expect(program.hasSuffix("@tsv"))
        let alert = #"{"detected_at":"2026-03-01T00:00:00Z","stage":"opened","severity":"warning","sensor_name":"evil\u001b]0;pwned\u0007\u001b[2J","narrative":{"text":"a\u009bb"}}"#
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/jq")
        process.arguments = ["-r", program]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        input.fileHandleForWriting.write(Data((alert + "\n").utf8))
        try input.fileHandleForWriting.close()
        let bytes = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let out = String(decoding: bytes, as: UTF8.self)
        #expect(out.contains("evil"))
        #expect(!out.unicodeScalars.contains { ($0.value < 0x20 && $0 != "\t" && $0 != "\n") || (0x7F...0x9F).contains($0.value) },
                "a control character reached the terminal: \(out.debugDescription)")
    }
}
