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
