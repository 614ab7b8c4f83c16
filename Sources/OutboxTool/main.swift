// outbox-tool: the child process of the outbox crash test (`vigil bench outbox` measures the outbox).
//   outbox-tool crash-child <database> <delivered-log> enqueues and drains until killed; prints
//                                                      "committed <sequence>" after each durable enqueue
import Foundation
import Logging
import Outbox

let arguments = CommandLine.arguments
guard arguments.count >= 2 else {
    FileHandle.standardError.write(Data("usage: outbox-tool crash-child <db> <delivered-log>\n".utf8))
    exit(2)
}

switch arguments[1] {
case "crash-child" where arguments.count >= 4:
    await CrashChild.run(database: arguments[2], deliveredLog: arguments[3])
default:
    FileHandle.standardError.write(Data("unknown command \(arguments[1])\n".utf8))
    exit(2)
}
