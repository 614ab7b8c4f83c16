extension MQTTConfiguration {
    /// Builds a configuration from a broker URL:
    ///
    ///     mqtt://[user[:password]@]host[:port][?option=value&...]     plain TCP, port 1883
    ///     mqtts://...                                                  TLS, port 8883
    ///
    /// `tcp://` is an alias of `mqtt://`, `ssl://` and `tls://` of `mqtts://`. IPv6 hosts go in
    /// brackets (`mqtt://[::1]:1883`). User and password are percent-decoded. Options:
    /// `version` (`3.1.1`, `311` or `5`), `clientId`, `keepAlive` (seconds), `cleanSession`
    /// (`true`/`false`), and for mqtts `ca`, `cert`, `key` (PEM file paths) and `insecure`
    /// (`true` disables certificate checks: tests only). Everything else keeps its default.
    public init(url: String) throws(MQTTError) {
        self.init()
        guard let schemeEnd = url.range(of: "://") else {
            throw .invalidURL(url, reason: "expected scheme://host[:port], e.g. mqtt://127.0.0.1:1883")
        }
        let scheme = url[..<schemeEnd.lowerBound].lowercased()
        var rest = Substring(url[schemeEnd.upperBound...])
        let secure: Bool
        switch scheme {
        case "mqtt", "tcp": secure = false
        case "mqtts", "ssl", "tls": secure = true
        default: throw .invalidURL(url, reason: "unsupported scheme '\(scheme)' (use mqtt or mqtts)")
        }

        var query: Substring = ""
        if let mark = rest.firstIndex(of: "?") {
            query = rest[rest.index(after: mark)...]
            rest = rest[..<mark]
        }
        if let slash = rest.firstIndex(of: "/") {
            let path = rest[slash...]
            guard path == "/" else { throw .invalidURL(url, reason: "a broker URL has no path, found '\(path)'") }
            rest = rest[..<slash]
        }
        if let at = rest.lastIndex(of: "@") {
            let userInfo = rest[..<at]
            rest = rest[rest.index(after: at)...]
            let parts = userInfo.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            guard let user = Self.percentDecoded(parts[0]), !user.isEmpty else {
                throw .invalidURL(url, reason: "the user name is empty or badly percent-encoded")
            }
            username = user
            if parts.count == 2 {
                guard let secret = Self.percentDecoded(parts[1]) else {
                    throw .invalidURL(url, reason: "the password is badly percent-encoded")
                }
                password = secret
            }
        }

        var portText: Substring?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw .invalidURL(url, reason: "unterminated IPv6 address") }
            host = String(rest[rest.index(after: rest.startIndex)..<close])
            let after = rest[rest.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw .invalidURL(url, reason: "unexpected text after the IPv6 address") }
                portText = after.dropFirst()
            }
        } else if let colon = rest.firstIndex(of: ":") {
            host = String(rest[..<colon])
            portText = rest[rest.index(after: colon)...]
        } else {
            host = String(rest)
        }
        if host.isEmpty { throw .invalidURL(url, reason: "the host is missing") }
        if let portText {
            guard let value = Int(portText), (1...65535).contains(value) else {
                throw .invalidURL(url, reason: "port '\(portText)' is not a number in 1...65535")
            }
            port = value
        } else {
            port = secure ? 8883 : 1883
        }
        if secure { tls = MQTTTLSConfiguration() }

        for item in query.split(separator: "&") where !item.isEmpty {
            let pair = item.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = String(pair[0])
            guard pair.count == 2, let value = Self.percentDecoded(pair[1]), !value.isEmpty else {
                throw .invalidURL(url, reason: "option '\(key)' needs a value")
            }
            try apply(option: key, value: value, secure: secure, url: url)
        }
        try validate()
    }

    private mutating func apply(option key: String, value: String, secure: Bool, url: String) throws(MQTTError) {
        func bool() throws(MQTTError) -> Bool {
            switch value.lowercased() {
            case "true", "1", "yes": return true
            case "false", "0", "no": return false
            default: throw .invalidURL(url, reason: "option '\(key)' must be true or false, got '\(value)'")
            }
        }
        func requireTLS() throws(MQTTError) {
            if !secure { throw .invalidURL(url, reason: "option '\(key)' needs an mqtts:// URL") }
        }
        switch key {
        case "version", "protocolVersion":
            switch value {
            case "3.1.1", "311", "4": protocolVersion = .v311
            case "5", "5.0": protocolVersion = .v5
            default: throw .invalidURL(url, reason: "version must be 3.1.1 or 5, got '\(value)'")
            }
        case "clientId", "clientID":
            clientID = value
        case "keepAlive":
            guard let seconds = Int(value), seconds >= 0 else {
                throw .invalidURL(url, reason: "keepAlive must be whole seconds, got '\(value)'")
            }
            keepAlive = .seconds(seconds)
        case "cleanSession":
            cleanSession = try bool()
        case "ca", "cafile":
            try requireTLS()
            tls?.caFile = value
        case "cert", "certfile":
            try requireTLS()
            tls?.certificateFile = value
        case "key", "keyfile":
            try requireTLS()
            tls?.keyFile = value
        case "insecure":
            try requireTLS()
            tls?.insecure = try bool()
        default:
            throw .invalidURL(url, reason: "unknown option '\(key)'")
        }
    }

    /// `%XX` decoding; nil on a malformed escape or invalid UTF-8.
    static func percentDecoded(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%") {
                guard let high = iterator.next().flatMap(Self.hexValue), let low = iterator.next().flatMap(Self.hexValue) else {
                    return nil
                }
                bytes.append(high << 4 | low)
            } else {
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// `init(url:)`, with `clientID` as the client identifier unless the URL names one (`clientId=`).
    public init(url: String, clientID: String) throws(MQTTError) {
        try self.init(url: url)
        if self.clientID == nil { self.clientID = clientID }
    }

    /// The URL of this configuration's broker (without credentials or options).
    public var brokerURL: String {
        let hostPart = host.contains(":") ? "[\(host)]" : host
        return "\(tls == nil ? "mqtt" : "mqtts")://\(hostPart):\(port)"
    }
}

extension MQTTConfiguration: CustomStringConvertible {
    /// For logs: the broker, client and options, never the password.
    public var description: String {
        var parts = [brokerURL, "protocol \(protocolVersion.rawValue)"]
        if let clientID { parts.append("client \(clientID)") }
        if let username { parts.append("user \(username)\(password == nil ? "" : " (password set)")") }
        if let tls {
            parts.append("ca \(tls.caFile ?? "system")")
            if tls.certificateFile != nil { parts.append("client certificate") }
            if tls.insecure { parts.append("INSECURE") }
        }
        if let will { parts.append("will on \(will.topic)") }
        return parts.joined(separator: ", ")
    }
}
