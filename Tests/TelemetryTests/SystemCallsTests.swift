import Foundation
import Testing
import VigilSupport
import VigilTestSupport

/// VigilSupport's door to the system: atomic durable writes, errno as one error type, sockets.
@Suite("System calls")
struct SystemCallsTests {
    @Test func atomicWriteReplacesTheFileAndLeavesNoTemporary() throws {
        let dir = try TemporaryDirectory()
        let path = dir.path + "/state.bin"
        try SystemCalls.writeAtomically([1, 2, 3], to: path)
        try SystemCalls.writeAtomically([4, 5], to: path)
        #expect(try SystemCalls.readFile(path) == [4, 5])
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path) == ["state.bin"])
        let status = try SystemCalls.fileStatus(path).get()
        #expect(status.isRegular && status.size == 2)
    }

    @Test func failuresSayWhatWasAttemptedAndWhy() throws {
        let dir = try TemporaryDirectory()
        let missing = dir.path + "/no/such/folder/state.bin"
        #expect {
            try SystemCalls.writeAtomically([1], to: missing)
        } throws: { error in
            guard let error = error as? SystemError else { return false }
            return error.errno == ENOENT && "\(error)".contains("cannot create \(missing).tmp-")
                && "\(error)".contains("No such file or directory")
        }
        #expect(throws: SystemError.self) { try SystemCalls.readFile(missing) }
        #expect(throws: SystemError.self) { try SystemCalls.rename(missing, to: dir.path + "/x") }
        guard case .failure(let error) = SystemCalls.fileStatus(missing) else { Issue.record("stat of a missing file"); return }
        #expect(error.errno == ENOENT)
    }

    @Test func listenAcceptAndProbe() throws {
        let address = try #require(SystemCalls.SocketAddress(literal: "127.0.0.1", port: 0))
        #expect(SystemCalls.SocketAddress(literal: "localhost", port: 1) == nil)
        #expect(SystemCalls.SocketAddress(literal: "::1", port: 1) != nil)
        let (fd, port) = try SystemCalls.listen(on: address)
        defer { SystemCalls.close(fd) }
        #expect(port > 0)
        #expect(SystemCalls.accepts(.loopback(port)))
        // A port in use cannot be bound again.
        #expect(try SystemCalls.probeBind(.loopback(port)) == nil)
        let probe = SystemCalls.accept(fd, waitingMilliseconds: 1000, timeoutSeconds: 1)  // the probe's connection
        #expect(probe != nil)
        if let probe { SystemCalls.close(probe) }
        #expect(SystemCalls.accept(fd, waitingMilliseconds: 10, timeoutSeconds: 1) == nil)
    }
}
