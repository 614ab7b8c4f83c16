import Agent
import Foundation
import Testing

/// `/healthz` is `ok` only when nothing is failing: a full disk or an unsaved detector state
/// makes it 503 `degraded` with the reason.
@Suite struct DeployHealthTests {
    @Test func degradedWithTheReasonsWhileAPartFails() throws {
        let board = HealthBoard()
        #expect(board.response(localConnected: true, localState: "connected").status == 200)
        board.set("outbox", "the outbox cannot write: disk full")
        board.set("detector_state", "the detector state cannot be saved: No space left on device")
        let (status, body) = board.response(localConnected: true, localState: "connected")
        #expect(status == 503)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])
        #expect(json["status"] as? String == "degraded")
        let problems = try #require(json["problems"] as? [String: String])
        #expect(problems["outbox"]?.contains("disk full") == true)
        #expect(problems["detector_state"]?.contains("No space left") == true)
        board.set("outbox", nil)
        board.set("detector_state", nil)
        #expect(board.response(localConnected: true, localState: "connected").status == 200)
        #expect(board.response(localConnected: false, localState: "disconnected").status == 503)
    }
}
