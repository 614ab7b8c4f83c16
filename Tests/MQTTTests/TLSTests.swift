import Foundation
import MQTT
import Testing
import VigilTestSupport

@Suite("TLS with a CA made at test time")
struct TLSTests {
    struct Setup {
        let directory: TemporaryDirectory
        let certificates: MosquittoTestCertificates
        let broker: MosquittoBroker
        let tlsPort: Int
    }

    func setUp(requireClientCertificate: Bool) throws -> Setup? {
        guard MosquittoBroker.isAvailable else { return nil }
        let directory = try TemporaryDirectory(prefix: "vigil-tls")
        let certificates: MosquittoTestCertificates
        do {
            certificates = try MosquittoTestCertificates.make(in: directory)
        } catch let error as MosquittoUnavailable {
            print("skipping: \(error)")
            return nil
        }
        let listener = MosquittoBroker.TLSListener(
            caFile: certificates.caFile, certificateFile: certificates.serverCertificateFile,
            keyFile: certificates.serverKeyFile, requireClientCertificate: requireClientCertificate
        )
        guard let broker = try startBroker(.init(tls: listener)), let tlsPort = broker.tlsPort else { return nil }
        return Setup(directory: directory, certificates: certificates, broker: broker, tlsPort: tlsPort)
    }

    func tlsConfiguration(_ setup: Setup, _ tls: MQTTTLSConfiguration, host: String = "127.0.0.1") -> MQTTConfiguration {
        var config = configuration(setup.broker)
        config.host = host
        config.port = setup.tlsPort
        config.tls = tls
        return config
    }

    @Test("a verified TLS connection carries messages", arguments: ["127.0.0.1", "localhost"])
    func verified(host: String) async throws {
        guard let setup = try setUp(requireClientCertificate: false) else { return }
        let client = try await connectedClient(tlsConfiguration(setup, MQTTTLSConfiguration(caFile: setup.certificates.caFile), host: host))
        try await client.subscribe("secure/#", qos: .atLeastOnce)
        try await client.publish(topic: "secure/a", string: "hello", qos: .atLeastOnce)
        let received = try await collect(1, from: client)
        #expect(received.first?.payloadString == "hello")
        await client.disconnect()
    }

    @Test("a broker certificate from another CA is refused with OpenSSL's reason")
    func wrongCA() async throws {
        guard let setup = try setUp(requireClientCertificate: false) else { return }
        let client = try MQTTClient(
            configuration: tlsConfiguration(setup, MQTTTLSConfiguration(caFile: setup.certificates.otherCAFile)),
            logger: testLogger()
        )
        let error = await #expect(throws: MQTTError.self) { try await client.connect() }
        guard case .library(_, let context)? = error else {
            Issue.record("expected a library error, got \(String(describing: error))")
            return
        }
        #expect(context.contains("certificate verify failed"), "\(context)")
    }

    @Test("insecure mode connects despite the wrong CA")
    func insecure() async throws {
        guard let setup = try setUp(requireClientCertificate: false) else { return }
        let client = try await connectedClient(
            tlsConfiguration(setup, MQTTTLSConfiguration(caFile: setup.certificates.otherCAFile, insecure: true))
        )
        #expect(client.isConnected)
        await client.disconnect()
    }

    @Test("a broker that requires client certificates accepts ours and refuses none")
    func clientCertificate() async throws {
        guard let setup = try setUp(requireClientCertificate: true) else { return }
        let certificates = setup.certificates
        let client = try await connectedClient(tlsConfiguration(setup, MQTTTLSConfiguration(
            caFile: certificates.caFile, certificateFile: certificates.clientCertificateFile,
            keyFile: certificates.clientKeyFile
        )))
        #expect(client.isConnected)
        await client.disconnect()

        let anonymous = try MQTTClient(
            configuration: tlsConfiguration(setup, MQTTTLSConfiguration(caFile: certificates.caFile)),
            logger: testLogger()
        )
        await #expect(throws: MQTTError.self) { try await anonymous.connect() }
    }

    @Test("missing certificate files are a configuration error before any connection")
    func missingFiles() throws {
        let config = MQTTConfiguration(tls: MQTTTLSConfiguration(caFile: "/nonexistent/ca.pem"))
        #expect(throws: MQTTError.invalidConfiguration("tls.caFile '/nonexistent/ca.pem' does not exist or cannot be read")) {
            _ = try MQTTClient(configuration: config, logger: testLogger())
        }
    }
}
