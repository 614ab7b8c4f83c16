import Foundation
import Logging
import Outbox
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The `outbox-tool` executable built beside the test binary.
func outboxTool() -> String? {
    var candidates: [String] = []
    if let explicit = ProcessInfo.processInfo.environment["VIGIL_OUTBOX_TOOL"] { candidates.append(explicit) }
    let me = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    candidates.append(me.deletingLastPathComponent().appendingPathComponent("outbox-tool").path)
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    for configuration in ["release", "debug"] {
        candidates.append(root.appendingPathComponent(".build/\(configuration)/outbox-tool").path)
    }
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
}

/// Reads a pipe to its end on a plain thread (the child's output must not block it).
final class PipeReader: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var data = Data()

    init(_ handle: FileHandle) {
        let thread = Thread { [self] in
            data = handle.readDataToEndOfFile()
            done.signal()
        }
        thread.start()
    }

    func text() -> String {
        done.wait()
        return String(decoding: data, as: UTF8.self)
    }
}

@Suite("Crash safety")
struct CrashTests {
    @Test("SIGKILL at random moments, 24 times: every committed event is kept or delivered, no number repeats")
    func killNineRepeatedly() async throws {
        let tool = try #require(outboxTool(), "outbox-tool not built beside the tests (swift build --product outbox-tool)")
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let deliveredLog = "\(directory.path)/delivered.log"
        let logger = Logger(label: "test.outbox.crash")
        var committedEver: [UInt64] = []
        var receivedByParent = Set<UInt64>()
        var roundsWithCommits = 0
        var roundsWithWAL = 0

        for round in 0..<24 {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: tool)
            process.arguments = ["crash-child", directory.database, deliveredLog]
            let output = Pipe()
            process.standardOutput = output
            process.standardError = FileHandle.nullDevice
            try process.run()
            let reader = PipeReader(output.fileHandleForReading)
            // Some kills land during start-up and recovery, most while producing and draining.
            let delay = round % 6 == 0 ? Int.random(in: 1...40) : Int.random(in: 60...400)
            try await Task.sleep(for: .milliseconds(delay))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            #expect(process.terminationReason == .uncaughtSignal, "round \(round): the child exited by itself")
            if FileManager.default.fileExists(atPath: directory.database + "-wal") { roundsWithWAL += 1 }

            // Only whole lines count: a line is printed after its enqueue returned.
            let lines = reader.text().split(separator: "\n", omittingEmptySubsequences: false).dropLast()
            let committed = lines.compactMap { line -> UInt64? in
                guard line.hasPrefix("committed ") else { return nil }
                return UInt64(line.dropFirst("committed ".count))
            }
            #expect(committed.count == lines.count, "round \(round): unexpected output")
            if !committed.isEmpty { roundsWithCommits += 1 }
            // Never reused: this round's numbers are all above every earlier one.
            if let low = committed.min(), let previous = committedEver.max() {
                #expect(low > previous, "round \(round): sequence \(low) not above \(previous)")
            }
            committedEver += committed

            // Restart as the agent would, and drain what survived.
            let outbox = try await Outbox.open(configuration: .test(directory.database), logger: logger)
            #expect(await outbox.statistics().corruptFilesMovedAside == 0, "round \(round): kill -9 left a damaged file")
            for message in await drainAll(outbox) { receivedByParent.insert(message.sequence) }
            await outbox.close()

            let deliveredText = (try? String(contentsOfFile: deliveredLog, encoding: .utf8)) ?? ""
            let deliveredByChild = Set(deliveredText.split(separator: "\n").compactMap { UInt64($0) })
            let lost = committedEver.filter { !receivedByParent.contains($0) && !deliveredByChild.contains($0) }
            #expect(lost.isEmpty, "round \(round): \(lost.count) committed events lost, e.g. \(lost.prefix(5))")
        }
        #expect(Set(committedEver).count == committedEver.count, "a sequence number was reported twice")
        #expect(roundsWithCommits >= 12, "too few rounds got as far as committing: \(roundsWithCommits)")
        print("crash test: \(committedEver.count) events committed over 24 kills; \(roundsWithWAL) kills left a -wal file")
    }
}
