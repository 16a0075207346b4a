import Foundation
import RunbookEscalation
import RunbookModel

/// A JSON POST of each message to a URL:
/// `{"incident_id", "sequence", "level", "severity", "subject", "body"}`, with an
/// `Idempotency-Key` header that is the same on a resend, and a bearer token when `token_env` is set.
public struct WebhookChannel: NotificationChannel {
    public let name: String
    public let settings: ChannelSettings.Webhook
    public let timeout: Duration
    private let environment: EnvironmentLookup

    public var minimumInterval: Duration { .zero }

    public init(name: String, settings: ChannelSettings.Webhook, timeout: Duration = .seconds(10), environment: @escaping EnvironmentLookup) {
        self.name = name
        self.settings = settings
        self.timeout = timeout
        self.environment = environment
    }

    public func deliver(_ message: OutgoingMessage) async -> DeliveryResult {
        var headers = ["Idempotency-Key": message.deliveryKey]
        var token: String?
        if let variable = settings.tokenVariable {
            guard let value = environment(variable), !value.isEmpty else {
                return .retry(after: nil, reason: "the webhook token's environment variable \(variable) is not set where the engine runs: set it and the message goes out")
            }
            token = value
            headers["Authorization"] = "Bearer \(value)"
        }
        let document: [String: Any] = [
            "incident_id": message.incidentID, "sequence": message.sequence, "level": message.level,
            "severity": message.severity, "subject": message.subject, "body": message.body,
        ]
        let json = (try? JSONSerialization.data(withJSONObject: document, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        let outcome = await JSONPost(url: settings.url, json: json, headers: headers, timeout: timeout).send()
        return JSONPost.result(of: outcome, peer: "the webhook", timeout: timeout) { JSONPost.excerpt($0) }.masking([token])
    }
}

extension ChannelSettings {
    /// A JSON POST to any URL.
    public struct Webhook: ChannelKind, Equatable {
        public static let spec = ChannelSpec(type: "webhook", keys: ["url", "token_env"], secretKey: "token_env")
        public var url: String
        /// The environment variable holding a bearer token to send, if any.
        public var tokenVariable: String?

        public init(url: String) { self.url = url }

        public static func read(_ fields: inout ChannelFields) -> Self? {
            guard fields.field("url") != nil else {
                fields.error(fields.entry, "\(fields.what) needs url: write url: \"https://hooks.example.com/runbook\"")
                return nil
            }
            guard case let (value, _)? = fields.url("url", schemes: ["https", "http"], example: "https://hooks.example.com/runbook", login: "token_env") else { return nil }
            var webhook = Webhook(url: value)
            webhook.tokenVariable = fields.variable("token_env", example: "HOOK_TOKEN")
            return webhook
        }

        public func channel(name: String, timeout: Duration, environment: @escaping EnvironmentLookup) -> any NotificationChannel {
            WebhookChannel(name: name, settings: self, timeout: timeout, environment: environment)
        }
    }
}
