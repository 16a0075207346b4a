import Yams

/// The HTTP server of `runbook up` (`http:` in runbook.yaml): health endpoints, metrics, the
/// JSON API and the dashboard.
public struct HTTPSettings: Sendable, Equatable {
    /// False turns the server off (`enabled: false`).
    public var enabled = true
    /// The address to listen on: loopback by default.
    public var host = "127.0.0.1"
    public var port = 8080
    /// The environment variable holding the token mutating API calls must bear. The token itself
    /// is never written in the file.
    public var tokenVariable = "RUNBOOK_API_TOKEN"
    /// Host names and addresses requests may name besides the loopback ones and the listen
    /// address (`allowed_hosts`): those clients use to reach a server listening beyond loopback.
    public var allowedHosts: [String] = []
    /// How long a connection may stay idle, no request in it, before the server closes it (`idle_timeout`).
    public var idleTimeout: Duration = .seconds(30)

    public init() {}

    static let keys = ["enabled", "listen", "token_env", "allowed_hosts", "idle_timeout"]

    /// `host:port` as written in `listen`.
    public var listen: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Whether only this machine can connect.
    public var isLoopback: Bool {
        ChannelSettings.isLoopback(host)
    }

    /// Whether `text` is a host name (`dashboard.example.com`) or an address (`10.0.0.5`, `::1`),
    /// as an entry of `allowed_hosts`: no port, scheme or path.
    public static func isHostName(_ text: String) -> Bool {
        let address = text.hasPrefix("[") && text.hasSuffix("]") ? String(text.dropFirst().dropLast()) : text
        if address.contains(":") { return address.allSatisfy { $0.isHexDigit || $0 == ":" || $0 == "." } }
        let labels = address.split(separator: ".", omittingEmptySubsequences: false)
        return address.count <= 253 && labels.allSatisfy { label in
            (1...63).contains(label.count) && label.first != "-" && label.last != "-"
                && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
        }
    }

    /// Splits `HOST:PORT` (`[::1]:8080` for IPv6); nil when it is not that shape.
    public static func parseListen(_ text: String) -> (host: String, port: Int)? {
        let host: Substring
        let port: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else { return nil }
            host = text[text.index(after: text.startIndex)..<close]
            port = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":"), !text[..<colon].contains(":") else { return nil }
            host = text[..<colon]
            port = text[text.index(after: colon)...]
        }
        guard !host.isEmpty, let number = Int(port), (0...65535).contains(number) else { return nil }
        return (String(host), number)
    }
}

extension EngineConfig {
    /// `http:`: `enabled`, `listen` (HOST:PORT), `token_env`, `allowed_hosts` and `idle_timeout`.
    mutating func readHTTP(_ node: Node, _ source: inout YAMLSource) {
        guard let entries = source.entries(node, what: "http") else { return }
        source.rejectUnknownKeys(entries, allowed: HTTPSettings.keys, in: "http")
        for (key, _, value) in entries {
            switch key {
            case "enabled":
                guard let flag = value.bool else {
                    source.error(value, "http.enabled must be true or false")
                    continue
                }
                http.enabled = flag
            case "listen":
                guard let text = source.string(value, what: "http.listen") else { continue }
                guard let (host, port) = HTTPSettings.parseListen(text) else {
                    source.error(value, "http.listen '\(text)' is not an address: write HOST:PORT such as 127.0.0.1:8080 or [::1]:8080")
                    continue
                }
                http.host = host
                http.port = port
            case "token_env":
                guard let name = source.string(value, what: "http.token_env") else { continue }
                guard ChannelSettings.isVariableName(name) else {
                    source.error(value, "http.token_env '\(name)' is not an environment variable name: write the variable's name (such as RUNBOOK_API_TOKEN), never the token itself")
                    continue
                }
                http.tokenVariable = name
            case "allowed_hosts":
                guard let items = value.sequence else {
                    source.error(value, "http.allowed_hosts must be a list of host names and addresses, such as [dashboard.example.com, 10.0.0.5]")
                    continue
                }
                for item in items {
                    guard let name = source.string(item, what: "an entry of http.allowed_hosts") else { continue }
                    guard HTTPSettings.isHostName(name) else {
                        source.error(item, "'\(name)' is not a host name or address: write the name clients put in the URL, such as dashboard.example.com or 10.0.0.5, without a scheme or port")
                        continue
                    }
                    http.allowedHosts.append(name)
                }
            case "idle_timeout":
                guard let duration = source.duration(value, what: "http.idle_timeout") else { continue }
                guard duration > .zero else {
                    source.error(value, "http.idle_timeout must be longer than 0s: idle connections would never be kept")
                    continue
                }
                http.idleTimeout = duration
            default: break
            }
        }
    }
}
