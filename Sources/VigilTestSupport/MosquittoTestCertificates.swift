import Foundation

/// A throw-away PKI for TLS tests, made with the `openssl` command: a CA, a server
/// certificate for 127.0.0.1/localhost, a client certificate, and an unrelated second CA
/// (to check that a wrong CA is refused). EC P-256 keys, valid for two days.
public struct MosquittoTestCertificates: Sendable {
    public let caFile: String
    public let serverCertificateFile: String
    public let serverKeyFile: String
    public let clientCertificateFile: String
    public let clientKeyFile: String
    /// A CA that signed none of the above.
    public let otherCAFile: String

    public static var openssl: String {
        ["/usr/bin/openssl", "/usr/local/bin/openssl"].first { FileManager.default.isExecutableFile(atPath: $0) }
            ?? "/usr/bin/openssl"
    }

    /// Makes all files in `directory`. Throws `MosquittoUnavailable` without openssl.
    public static func make(in directory: TemporaryDirectory) throws -> MosquittoTestCertificates {
        let openssl = Self.openssl
        guard FileManager.default.isExecutableFile(atPath: openssl) else {
            throw MosquittoUnavailable(reason: "openssl is not installed")
        }
        func path(_ name: String) -> String { directory.file(name).path }
        func run(_ arguments: [String]) throws { try MosquittoSpawn.run(openssl, arguments, in: directory) }
        let key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

        func makeCA(_ name: String, subject: String) throws {
            try run(["req", "-x509"] + key + [
                "-keyout", path("\(name).key"), "-out", path("\(name).crt"), "-days", "2", "-subj", subject,
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign",
            ])
        }
        func makeLeaf(_ name: String, subject: String, extensions: String) throws {
            try run(["req"] + key + ["-keyout", path("\(name).key"), "-out", path("\(name).csr"), "-subj", subject])
            try directory.write(extensions, to: "\(name).ext")
            try run([
                "x509", "-req", "-in", path("\(name).csr"), "-CA", path("ca.crt"), "-CAkey", path("ca.key"),
                "-CAcreateserial", "-out", path("\(name).crt"), "-days", "2", "-extfile", path("\(name).ext"),
            ])
        }

        try makeCA("ca", subject: "/CN=Vigil Test CA")
        try makeCA("other-ca", subject: "/CN=Unrelated Test CA")
        try makeLeaf(
            "server", subject: "/CN=localhost",
            extensions: "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n"
        )
        try makeLeaf(
            "client", subject: "/CN=vigil-test-client",
            extensions: "extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n"
        )
        return MosquittoTestCertificates(
            caFile: path("ca.crt"),
            serverCertificateFile: path("server.crt"),
            serverKeyFile: path("server.key"),
            clientCertificateFile: path("client.crt"),
            clientKeyFile: path("client.key"),
            otherCAFile: path("other-ca.crt")
        )
    }
}
