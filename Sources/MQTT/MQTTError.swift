import CMosquitto
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A libmosquitto result code (`MOSQ_ERR_*`) with the library's own text.
///
/// `MOSQ_ERR_ERRNO` carries the `errno` seen right after the failing call, so that
/// "connection refused" or "no route to host" is not reported as a bare code.
public struct MosquittoError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The `MOSQ_ERR_*` value.
    public let code: Int32
    /// `errno` when `code` is `MOSQ_ERR_ERRNO`, else nil.
    public let systemErrno: Int32?

    public init(code: Int32, systemErrno: Int32? = nil) {
        self.code = code
        self.systemErrno = code == Int32(MOSQ_ERR_ERRNO.rawValue) && systemErrno != 0 ? systemErrno : nil
    }

    /// `mosquitto_strerror(code)`, or the system's text for `MOSQ_ERR_ERRNO`.
    public var description: String {
        if let systemErrno, let text = strerror(systemErrno) {
            return String(cString: text)
        }
        guard let text = mosquitto_strerror(code) else { return "libmosquitto error \(code)" }
        return String(cString: text)
    }

    static let success = Int32(MOSQ_ERR_SUCCESS.rawValue)

    /// Turns a libmosquitto return code into a thrown error.
    @inline(__always)
    static func check(_ code: Int32, _ context: @autoclosure () -> String) throws(MQTTError) {
        guard code != success else { return }
        throw MQTTError.library(MosquittoError(code: code, systemErrno: errno), context: context())
    }
}

/// Everything the `MQTT` module throws.
public enum MQTTError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A libmosquitto call failed. `context` says what was being done (and, for TLS,
    /// the library's last error line, e.g. "certificate verify failed").
    case library(MosquittoError, context: String)
    /// The broker answered CONNECT with a refusal (CONNACK return code / MQTT 5 reason code).
    case connectionRefused(reasonCode: Int32, reason: String)
    /// No CONNACK arrived within `MQTTConfiguration.connectTimeout`.
    case connectTimeout(host: String, port: Int)
    /// The client is not connected to the broker right now (it may be reconnecting).
    case notConnected
    /// The connection dropped before the broker acknowledged the publish.
    /// The message may or may not have reached the broker (at-least-once: send it again).
    case connectionLost
    /// `disconnect()` was called, or the client is already shut down.
    case clientClosed
    /// `connect()` was called while the client is already connecting or connected.
    case alreadyStarted
    /// An MQTT 5 broker acknowledged a publish with a failure reason code.
    case publishRejected(reasonCode: Int32, reason: String)
    /// The broker refused a subscription (SUBACK 0x80 or an MQTT 5 failure reason).
    case subscriptionRejected(filter: String, reasonCode: Int32)
    /// A topic name or topic filter is not valid MQTT.
    case invalidTopic(String, reason: String)
    /// The configuration cannot work; the text says which field and why.
    case invalidConfiguration(String)
    /// A broker URL could not be parsed.
    case invalidURL(String, reason: String)
    /// Credentials could not be read (file missing, empty, unreadable).
    case credentials(String)

    public var description: String {
        switch self {
        case .library(let error, let context):
            return "\(context): \(error.description)"
        case .connectionRefused(let code, let reason):
            return "broker refused the connection: \(reason) (reason code \(code))"
        case .connectTimeout(let host, let port):
            return "no CONNACK from \(host):\(port) within the connect timeout"
        case .notConnected:
            return "not connected to the broker"
        case .connectionLost:
            return "connection lost before the broker acknowledged the message"
        case .clientClosed:
            return "the MQTT client was disconnected and is closed"
        case .alreadyStarted:
            return "connect() was already called on this client"
        case .publishRejected(let code, let reason):
            return "broker rejected the publish: \(reason) (reason code \(code))"
        case .subscriptionRejected(let filter, let code):
            return "broker rejected the subscription to '\(filter)' (code \(code))"
        case .invalidTopic(let topic, let reason):
            return "invalid topic '\(topic)': \(reason)"
        case .invalidConfiguration(let text):
            return "invalid MQTT configuration: \(text)"
        case .invalidURL(let url, let reason):
            return "invalid broker URL '\(url)': \(reason)"
        case .credentials(let text):
            return "MQTT credentials: \(text)"
        }
    }
}

/// Human text for CONNACK codes: MQTT 3.1.1 return codes and MQTT 5 reason codes.
enum ConnackText {
    static func text(code: Int32, version: MQTTProtocolVersion) -> String {
        let raw: UnsafePointer<CChar>? = switch version {
        case .v311: mosquitto_connack_string(code)
        case .v5: mosquitto_reason_string(code)
        }
        guard let raw else { return "reason code \(code)" }
        return String(cString: raw)
    }
}
