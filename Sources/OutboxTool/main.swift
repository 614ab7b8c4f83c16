// outbox-tool: a test-free way to exercise the Outbox.
//   outbox-tool bench [directory] [repetitions]       prints the benchmark figures
//   outbox-tool crash-child <database> <delivered-log> enqueues and drains until killed; prints
//                                                      "committed <sequence>" after each durable enqueue
import Foundation
import Logging
import Outbox

let arguments = CommandLine.arguments
guard arguments.count >= 2 else {
    FileHandle.standardError.write(Data("usage: outbox-tool bench [dir] [reps] | crash-child <db> <delivered-log>\n".utf8))
    exit(2)
}

switch arguments[1] {
case "bench":
    let directory = arguments.count > 2 ? arguments[2] : FileManager.default.currentDirectoryPath
    let repetitions = arguments.count > 3 ? Int(arguments[3]) ?? 3 : 3
    do {
        let figures = try await OutboxBenchmark.run(directory: directory, repetitions: repetitions)
        print(figures)
    } catch {
        FileHandle.standardError.write(Data("bench failed: \(error)\n".utf8))
        exit(1)
    }
case "crash-child" where arguments.count >= 4:
    await CrashChild.run(database: arguments[2], deliveredLog: arguments[3])
default:
    FileHandle.standardError.write(Data("unknown command \(arguments[1])\n".utf8))
    exit(2)
}
