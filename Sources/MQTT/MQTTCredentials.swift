import Foundation

/// A user name and password for the broker, read from where deployments keep them.
///
/// ```swift
/// if let credentials = try MQTTCredentials.load(usernameEnv: "VIGIL_MQTT_USER",
///                                               passwordFile: "/etc/vigil/mqtt.password") {
///     configuration.apply(credentials)
/// }
/// ```
public struct MQTTCredentials: Sendable, Equatable {
    public var username: String
    public var password: String?

    public init(username: String, password: String? = nil) {
        self.username = username
        self.password = password
    }

    /// Reads credentials. The user name is `username`, else the variable `usernameEnv`;
    /// the password is the first line of `passwordFile` (a trailing newline is dropped),
    /// else the variable `passwordEnv`, else `password`.
    /// Returns nil when no user name is configured at all. Throws `MQTTError.credentials`
    /// when something named is missing or empty, so a typo is not a silent anonymous login.
    public static func load(
        username: String? = nil,
        usernameEnv: String? = nil,
        password: String? = nil,
        passwordEnv: String? = nil,
        passwordFile: String? = nil,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(MQTTError) -> MQTTCredentials? {
        var user = username
        if user == nil, let name = usernameEnv {
            guard let value = environment[name], !value.isEmpty else {
                throw .credentials("environment variable \(name) (the MQTT user name) is not set or empty")
            }
            user = value
        }
        var secret: String?
        if let passwordFile {
            let data: Data
            do {
                data = try Data(contentsOf: URL(fileURLWithPath: passwordFile))
            } catch {
                throw .credentials("cannot read the password file '\(passwordFile)': \(error.localizedDescription)")
            }
            guard let text = String(data: data, encoding: .utf8) else {
                throw .credentials("the password file '\(passwordFile)' is not UTF-8 text")
            }
            let firstLine = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let trimmed = firstLine.hasSuffix("\r") ? firstLine.dropLast() : firstLine
            guard !trimmed.isEmpty else { throw .credentials("the password file '\(passwordFile)' is empty") }
            secret = String(trimmed)
        } else if let name = passwordEnv {
            guard let value = environment[name], !value.isEmpty else {
                throw .credentials("environment variable \(name) (the MQTT password) is not set or empty")
            }
            secret = value
        } else {
            secret = password
        }
        guard let user else {
            if secret != nil { throw .credentials("a password is configured but no user name") }
            return nil
        }
        return MQTTCredentials(username: user, password: secret)
    }
}

extension MQTTConfiguration {
    /// Sets `username` and `password`.
    public mutating func apply(_ credentials: MQTTCredentials) {
        username = credentials.username
        password = credentials.password
    }
}
