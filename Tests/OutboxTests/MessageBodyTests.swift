import Foundation
import Outbox
import Testing

@Suite("Message body")
struct MessageBodyTests {
    func message(_ body: String, key: String = "k-1", historical: Bool = true) -> OutboxMessage {
        OutboxMessage(
            sequence: 42, key: key, topic: "t", payload: Array(body.utf8), severity: 1, createdAt: 0,
            historical: historical)
    }

    @Test("Delivery fields are spliced into a JSON object", arguments: ["{\"a\":1,\"b\":[1,2]}", " \n{ \"a\" : 1 }", "{}", "{ }"])
    func splices(body: String) throws {
        let spliced = try #require(message(body).jsonObjectBody())
        let object = try #require(try JSONSerialization.jsonObject(with: Data(spliced)) as? [String: Any])
        #expect(object["sequence"] as? Int == 42)
        #expect(object["idempotency_key"] as? String == "k-1")
        #expect(object["historical"] as? Bool == true)
        let original = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])
        #expect(object.count == original.count + 3)
        if !original.isEmpty { #expect(object["a"] as? Int == 1) }
    }

    @Test("Keys that need escaping stay valid JSON")
    func escapesKey() throws {
        let spliced = try #require(message("{}", key: "a\"b\\c\n\u{1}", historical: false).jsonObjectBody())
        let object = try #require(try JSONSerialization.jsonObject(with: Data(spliced)) as? [String: Any])
        #expect(object["idempotency_key"] as? String == "a\"b\\c\n\u{1}")
        #expect(object["historical"] as? Bool == false)
    }

    @Test("A payload that is not a JSON object is refused, not mangled", arguments: ["[1]", "42", "", "  ", "\"s\""])
    func refusesNonObjects(body: String) {
        #expect(message(body).jsonObjectBody() == nil)
    }
}
