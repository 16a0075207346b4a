import Yams

/// A notification channel of `runbook.yaml` (`channels:`, a map from name to settings). Secrets
/// are never written in the file: the file names the environment variables that hold them.
public struct ChannelSettings: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case telegram(Telegram)
        case email(Email)
        case webhook(Webhook)
    }

    /// Telegram Bot API `sendMessage` to one chat.
    public struct Telegram: Sendable, Equatable {
        /// The API's base URL; tests point it at a local server.
        public var baseURL = "https://api.telegram.org"
        /// The environment variable holding the bot token.
        public var tokenVariable = "TELEGRAM_BOT_TOKEN"
        public var chatID: String
        public init(chatID: String) { self.chatID = chatID }
    }

    /// E-mail over SMTP through libcurl.
    public struct Email: Sendable, Equatable {
        public enum Security: String, Sendable, Equatable, CaseIterable {
            /// Plain SMTP upgraded with STARTTLS (required).
            case starttls
            /// TLS from the first byte (smtps://, port 465).
            case smtps
            /// No TLS: loopback relays only.
            case none
        }
        /// `smtp://host:port` or `smtps://host:port`.
        public var url: String
        public var security: Security = .starttls
        public var from: String
        public var to: [String]
        /// Environment variables holding the login, when the server asks for one.
        public var usernameVariable: String?
        public var passwordVariable: String?
        /// A PEM file of the certificate authorities to trust for the server's certificate, instead
        /// of the system's (a private CA, or a self-signed certificate).
        public var caFile: String?
        public init(url: String, from: String, to: [String]) {
            self.url = url
            self.from = from
            self.to = to
        }
    }

    /// A JSON POST to any URL.
    public struct Webhook: Sendable, Equatable {
        public var url: String
        /// The environment variable holding a bearer token to send, if any.
        public var tokenVariable: String?
        public init(url: String) { self.url = url }
    }

    public var name: String
    public var kind: Kind
    /// How long one attempt may take before it counts as failed (or uncertain, once sent).
    public var timeout: Duration = .seconds(10)

    public init(name: String, kind: Kind) {
        self.name = name
        self.kind = kind
    }

    public var type: String {
        switch kind {
        case .telegram: "telegram"
        case .email: "email"
        case .webhook: "webhook"
        }
    }
}
