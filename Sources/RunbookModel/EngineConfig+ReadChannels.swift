import Foundation
import Yams

extension ChannelSettings {
    /// The keys each type of channel takes.
    static let keys: [String: [String]] = [
        "telegram": ["type", "timeout", "chat_id", "token_env", "base_url"],
        "email": ["type", "timeout", "url", "security", "from", "to", "username_env", "password_env", "ca_file"],
        "webhook": ["type", "timeout", "url", "token_env"],
    ]

    static let types = ["telegram", "email", "webhook"]

    /// Keys under which someone would write a secret itself; each is refused with the key to write
    /// instead.
    static let inlineSecretKeys: Set<String> = [
        "token", "bot_token", "password", "pass", "passwd", "secret", "api_key", "apikey", "access_token", "auth_token",
        "bearer", "authorization",
    ]

    /// An environment variable's name as a shell writes it.
    static func isVariableName(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, first == "_" || (first.isASCII && first.properties.isAlphabetic) else { return false }
        return text.unicodeScalars.allSatisfy { $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))) }
    }

    /// A bare address such as ops@example.com: what SMTP's envelope and the headers take.
    static func isAddress(_ text: String) -> Bool {
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("."), !parts[1].hasPrefix("."), !parts[1].hasSuffix(".") else { return false }
        return text.unicodeScalars.allSatisfy { $0.isASCII && $0.value > 32 && $0.value < 127 && !"<>()[],;:\"\\".unicodeScalars.contains($0) }
    }

    /// A channel's name: letters, digits, '-', '_' and '.'.
    static func isName(_ text: String) -> Bool {
        !text.isEmpty && text.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "-_.".unicodeScalars.contains($0)) }
    }

    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host == "[::1]" || host.hasPrefix("127.")
    }
}

extension EngineConfig {
    /// `channels:`: a map from a channel's name to its settings.
    mutating func readChannels(_ node: Node, _ source: inout YAMLSource) {
        guard let entries = source.entries(node, what: "channels") else { return }
        let base = (source.file as NSString).deletingLastPathComponent
        for (name, keyNode, value) in entries {
            guard ChannelSettings.isName(name) else {
                source.error(keyNode, "channel name '\(name)' is not a plain name: use letters, digits, '-', '_' and '.', such as ops-telegram")
                continue
            }
            guard !channels.contains(where: { $0.name == name }) else {
                source.error(keyNode, "channel name '\(name)' is used twice: give each channel its own")
                continue
            }
            if let channel = Self.readChannel(name, value, base: base, &source) { channels.append(channel) }
        }
    }

    private static func readChannel(_ name: String, _ node: Node, base: String, _ source: inout YAMLSource) -> ChannelSettings? {
        let what = "channel '\(name)'"
        guard let entries = source.entries(node, what: what) else { return nil }
        let field = { (key: String) in entries.first { $0.key == key }?.value }

        // A secret written in the file is refused first, whatever else is wrong, and never shown.
        let secretKey = field("type")?.scalar?.string == "email" ? "password_env" : "token_env"
        var refused: Set<String> = []
        for entry in entries where ChannelSettings.inlineSecretKeys.contains(entry.key.lowercased()) {
            refused.insert(entry.key)
            source.error(
                entry.keyNode,
                "\(what): '\(entry.key)' would keep a secret in runbook.yaml: put it in an environment variable and write \(secretKey): VARIABLE_NAME instead",
                masking: entry.value.scalar?.string ?? "")
        }

        guard let typeNode = field("type") else {
            source.error(node, "\(what) needs a type: write type: telegram, email or webhook")
            return nil
        }
        guard let type = source.string(typeNode, what: "\(what).type") else { return nil }
        guard let allowed = ChannelSettings.keys[type] else {
            source.error(typeNode, "unknown channel type '\(type)'\(Suggestion.hint(for: type, in: ChannelSettings.types)): write telegram, email or webhook")
            return nil
        }
        source.rejectUnknownKeys(entries.filter { !refused.contains($0.key) }, allowed: allowed, in: what)

        func text(_ key: String) -> String? {
            field(key).flatMap { source.string($0, what: "\(what).\(key)") }
        }
        func required(_ key: String, example: String) -> String? {
            guard field(key) != nil else {
                source.error(node, "\(what) needs \(key): write \(key): \(example)")
                return nil
            }
            return text(key)
        }
        /// The name of an environment variable; a value that cannot be one may be the secret itself.
        func variable(_ key: String) -> String? {
            guard let node = field(key), let name = source.string(node, what: "\(what).\(key)") else { return nil }
            guard ChannelSettings.isVariableName(name) else {
                source.error(
                    node,
                    "\(what).\(key) must name an environment variable (letters, digits and _, such as \(key == "password_env" ? "SMTP_PASSWORD" : "HOOK_TOKEN")), not hold the secret itself",
                    masking: name)
                return nil
            }
            return name
        }
        /// A URL with one of `schemes`, a host, and no login in it.
        func url(_ key: String, schemes: [String], example: String) -> (text: String, parts: URLComponents)? {
            guard let node = field(key), let value = source.string(node, what: "\(what).\(key)") else { return nil }
            guard let parts = URLComponents(string: value), let scheme = parts.scheme?.lowercased(), schemes.contains(scheme),
                  let host = parts.host, !host.isEmpty
            else {
                let shown = URLComponents(string: value)?.password == nil ? " '\(value)'" : ""
                source.error(node, "\(what).\(key)\(shown) is not a \(schemes.joined(separator: " or ")) URL: write it like \(example)", masking: URLComponents(string: value)?.password ?? "")
                return nil
            }
            if parts.user != nil || parts.password != nil {
                let instead = type == "email" ? "username_env and password_env" : "token_env"
                source.error(node, "\(what).\(key) must not carry a login: name environment variables with \(instead) instead", masking: parts.password ?? "")
                return nil
            }
            return (value, parts)
        }

        var channel: ChannelSettings
        switch type {
        case "telegram":
            guard let chatID = required("chat_id", example: "\"-1001234567890\"") else { return nil }
            let isNumber = Int64(chatID) != nil
            let isUsername = chatID.hasPrefix("@") && chatID.count > 1 && ChannelSettings.isVariableName(String(chatID.dropFirst()))
            guard isNumber || isUsername else {
                source.error(field("chat_id")!, "\(what).chat_id '\(chatID)' is not a chat: write the chat's number, such as \"-1001234567890\", or a public channel's @username")
                return nil
            }
            var telegram = ChannelSettings.Telegram(chatID: chatID)
            if let variable = variable("token_env") { telegram.tokenVariable = variable }
            if case let (value, parts)? = url("base_url", schemes: ["https", "http"], example: "https://api.telegram.org") {
                if parts.path.range(of: #"/bot[0-9]+:"#, options: .regularExpression) != nil {
                    source.error(field("base_url")!, "\(what).base_url holds a bot token: write only the API's address, such as https://api.telegram.org, and name the token's variable with token_env", masking: parts.path)
                    return nil
                }
                if parts.query != nil || parts.fragment != nil {
                    source.error(field("base_url")!, "\(what).base_url '\(value)' must not have a query: write only the API's address, such as https://api.telegram.org")
                    return nil
                }
                telegram.baseURL = value.hasSuffix("/") ? String(value.dropLast()) : value
            }
            channel = ChannelSettings(name: name, kind: .telegram(telegram))

        case "email":
            guard field("url") != nil else {
                source.error(node, "\(what) needs url: write url: \"smtp://mail.example.com:587\" (STARTTLS) or \"smtps://mail.example.com:465\"")
                return nil
            }
            guard case let (value, parts)? = url("url", schemes: ["smtp", "smtps"], example: "smtp://mail.example.com:587 or smtps://mail.example.com:465"),
                  let from = required("from", example: "runbook@example.com")
            else { return nil }
            guard ChannelSettings.isAddress(from) else {
                source.error(field("from")!, "\(what).from '\(from)' is not an e-mail address: write a bare address such as runbook@example.com")
                return nil
            }
            guard let toNode = field("to") else {
                source.error(node, "\(what) needs to: write to: [ops@example.com]")
                return nil
            }
            let toNodes = toNode.sequence.map(Array.init) ?? [toNode]
            var to: [String] = []
            for item in toNodes {
                guard let address = source.string(item, what: "\(what).to") else { continue }
                if ChannelSettings.isAddress(address) {
                    to.append(address)
                } else {
                    source.error(item, "\(what).to '\(address)' is not an e-mail address: write bare addresses such as ops@example.com")
                }
            }
            guard !to.isEmpty else {
                if toNodes.isEmpty { source.error(toNode, "\(what).to is empty: write at least one address, such as to: [ops@example.com]") }
                return nil
            }
            var email = ChannelSettings.Email(url: value, from: from, to: to)
            let implicitTLS = parts.scheme?.lowercased() == "smtps"
            email.security = implicitTLS ? .smtps : .starttls
            if let securityNode = field("security"), let word = source.string(securityNode, what: "\(what).security") {
                guard let security = ChannelSettings.Email.Security(rawValue: word) else {
                    source.error(securityNode, "unknown security '\(word)' for \(what)\(Suggestion.hint(for: word, in: ChannelSettings.Email.Security.allCases.map(\.rawValue))): write starttls, smtps or none")
                    return nil
                }
                if implicitTLS, security != .smtps {
                    source.error(securityNode, "\(what): an smtps:// url is TLS from the first byte: write security: smtps, or an smtp:// url for \(word)")
                    return nil
                }
                if !implicitTLS, security == .smtps {
                    source.error(securityNode, "\(what): security smtps needs an smtps:// url: write url: \"smtps://\(parts.host ?? "mail.example.com"):465\"")
                    return nil
                }
                if security == .none, !ChannelSettings.isLoopback(parts.host ?? "") {
                    source.error(securityNode, "\(what): security none sends mail in the clear, which is only allowed to a relay on this machine (127.0.0.1): write security: starttls")
                    return nil
                }
                email.security = security
            }
            email.usernameVariable = variable("username_env")
            email.passwordVariable = variable("password_env")
            // (A password written in the file has been refused already, saying what to write.)
            if refused.isEmpty, (field("username_env") == nil) != (field("password_env") == nil) {
                let missing = field("username_env") == nil ? "username_env: SMTP_USER" : "password_env: SMTP_PASSWORD"
                source.error(node, "\(what): a login needs both variables: write \(missing) too")
            }
            if let caNode = field("ca_file"), let path = source.string(caNode, what: "\(what).ca_file") {
                let resolved = path.hasPrefix("/") || base.isEmpty ? path : (base as NSString).appendingPathComponent(path)
                if email.security == .none {
                    source.error(caNode, "\(what).ca_file has no use with security none: remove it, or write security: starttls")
                } else if !FileManager.default.isReadableFile(atPath: resolved) {
                    source.error(caNode, "\(what).ca_file '\(path)' cannot be read: give the path of a PEM file with the certificate authority that signed the server's certificate")
                } else {
                    email.caFile = resolved
                }
            }
            channel = ChannelSettings(name: name, kind: .email(email))

        default:
            guard field("url") != nil else {
                source.error(node, "\(what) needs url: write url: \"https://hooks.example.com/runbook\"")
                return nil
            }
            guard case let (value, _)? = url("url", schemes: ["https", "http"], example: "https://hooks.example.com/runbook") else { return nil }
            var webhook = ChannelSettings.Webhook(url: value)
            webhook.tokenVariable = variable("token_env")
            channel = ChannelSettings(name: name, kind: .webhook(webhook))
        }

        if let timeoutNode = field("timeout"), let timeout = source.duration(timeoutNode, what: "\(what).timeout") {
            if timeout <= .zero || timeout > .seconds(600) {
                source.error(timeoutNode, "\(what).timeout must be more than 0 and at most 10m: write it like 10s")
            } else {
                channel.timeout = timeout
            }
        }
        return channel
    }
}
