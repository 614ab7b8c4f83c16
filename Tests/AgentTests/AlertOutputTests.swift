import Agent
import Foundation
import Telemetry
import Testing
import VigilTestSupport

/// `vigil replay --quiet --out FILE` and `--format text`: the file is written, and names or text
/// from outside cannot put terminal escapes on the operator's screen.
@Suite struct AlertOutputTests {
    @Test func controlCharactersAreEscaped() {
        #expect(TerminalText.escaped("P-101 flow") == "P-101 flow")
        #expect(TerminalText.escaped("evil\u{1B}[2Jname") == "evil\\u{1B}[2Jname")
        #expect(TerminalText.escaped("a\nb\u{0}c\u{9B}d\u{202E}") == "a\\u{A}b\\u{0}c\\u{9B}d\\u{202E}")
    }

    @Test func quietStillWritesTheFileAndTextIsEscaped() async throws {
        var catalog = try Catalog.load(file: RepositoryPaths.file("sensors/plant.yaml"))
        for i in catalog.sensors.indices { catalog.sensors[i].name = "evil\u{1B}]0;pwned\u{7}\u{1B}[31m" + catalog.sensors[i].name }
        let recording = RepositoryPaths.file("sensors/recordings/cavitation.csv")
        let runner = ReplayRunner(options: .init(recording: recording, catalog: catalog, labels: nil),
                                  narrator: try AgentNarration.replayNarrator(catalog: catalog))
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        for text in [false, true] {
            let path = directory.file(text ? "alerts.txt" : "alerts.jsonl").path
            let output = try AlertOutput(path: path, quiet: true, text: text)
            _ = try await runner.run { alert in try output.write(alert) }
            try output.close()
            let bytes = try #require(FileManager.default.contents(atPath: path), "--quiet --out wrote no file")
            #expect(bytes.count > 100)
            if text {
                #expect(!bytes.contains(0x1B) && !bytes.contains(0x07), "a terminal escape reached the text output")
                #expect(String(decoding: bytes, as: UTF8.self).contains("evil\\u{1B}]0;pwned"))
            }
        }
    }
}
