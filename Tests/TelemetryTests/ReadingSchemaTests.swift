import Telemetry
import Testing
import VigilTestSupport

/// schemas/reading.schema.json describes what the decoder accepts: every payload that decodes
/// validates, and the structural refusals are refused by the schema too.
@Suite struct ReadingSchemaTests {
    let sensor = Sensor(id: "pump1.flow", name: "P-101 flow", unit: "m3/h", asset: "pump1",
                        topic: "plant/pump1/flow", samplePeriod: 1)

    func validator() throws -> JSONSchemaValidator {
        try JSONSchemaValidator(directory: RepositoryPaths.file("schemas"), file: "reading.schema.json")
    }

    @Test(arguments: [
        "42", "-1.5", "3.25e2", " 7 \n", "0",
        #"{"value": 1.5}"#, #"{"ts": 1700000000000, "value": 2}"#, #"{"ts": "2026-01-02T03:04:05Z", "value": 2}"#,
        #"{"ts": null, "value": 2}"#, #"{"value": true}"#, #"{"value": 3, "quality": "good"}"#,
        #"{"value": 3, "quality": "bad"}"#, #"{"value": 3, "quality": "Substituted"}"#,
    ])
    func everyAcceptedPayloadValidates(_ payload: String) throws {
        let decoded = PayloadDecoder(maximumSize: 4096).decode(Array(payload.utf8), for: sensor, receivedAt: 5_000)
        guard case .success = decoded else {
            Issue.record("the decoder refuses \(payload): \(decoded)")
            return
        }
        var schema = try validator()
        let failures = try schema.validate(json: payload)
        #expect(failures.isEmpty, "\(payload): \(failures)")
    }

    @Test(arguments: [#"{"ts": 1}"#, #"{"value": "12"}"#, #""12""#, "[1]"])
    func structuralRefusalsAreRefusedByTheSchema(_ payload: String) throws {
        let decoded = PayloadDecoder(maximumSize: 4096).decode(Array(payload.utf8), for: sensor, receivedAt: 5_000)
        guard case .failure = decoded else {
            Issue.record("the decoder accepts \(payload)")
            return
        }
        var schema = try validator()
        #expect(try !schema.validate(json: payload).isEmpty, "\(payload)")
    }
}
