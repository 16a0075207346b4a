import Foundation
import RunbookEscalation
import RunbookModel

/// Telegram Bot API `sendMessage` to one chat. The bot token is read from its environment variable
/// at each delivery; it is part of the request's URL, so the URL is never shown anywhere.
public struct TelegramChannel: NotificationChannel {
    public let name: String
    public let settings: ChannelSettings.Telegram
    public let timeout: Duration
    private let environment: EnvironmentLookup

    /// Telegram takes about one message a second per chat.
    public var minimumInterval: Duration { .seconds(1) }

    /// Telegram's limit on a message's text, in UTF-16 code units.
    static let textLimit = 4096

    public init(name: String, settings: ChannelSettings.Telegram, timeout: Duration = .seconds(10), environment: @escaping EnvironmentLookup) {
        self.name = name
        self.settings = settings
        self.timeout = timeout
        self.environment = environment
    }

    public func deliver(_ message: OutgoingMessage) async -> DeliveryResult {
        guard let token = environment(settings.tokenVariable), !token.isEmpty else {
            return .retry(after: nil, reason: "the bot token's environment variable \(settings.tokenVariable) is not set where the engine runs: set it and the message goes out")
        }
        let json = (try? JSONSerialization.data(withJSONObject: ["chat_id": settings.chatID, "text": Self.text(of: message)], options: [.sortedKeys])) ?? Data()
        let outcome = await JSONPost(url: "\(settings.baseURL)/bot\(token)/sendMessage", json: json, timeout: timeout).send()
        let answer = (try? JSONSerialization.jsonObject(with: outcome.body)) as? [String: Any]
        let description = answer?["description"] as? String
        var result: DeliveryResult
        if outcome.failure == nil, !outcome.cancelled, (200..<300).contains(outcome.status), answer?["ok"] as? Bool != true {
            // Something answered 2xx, but not the Bot API.
            result = .rejected(reason: "Telegram answered \(outcome.status) without \"ok\": true: check base_url \(settings.baseURL)")
        } else {
            let retryAfter = ((answer?["parameters"] as? [String: Any])?["retry_after"] as? NSNumber).map { Duration.seconds($0.intValue) }
            result = JSONPost.result(of: outcome, peer: "Telegram", timeout: timeout, retryAfter: retryAfter) { body in
                description ?? JSONPost.excerpt(body)
            }
            if case .rejected(let reason) = result, outcome.status == 401 || outcome.status == 404 {
                result = .rejected(reason: reason + " (check the bot token in \(settings.tokenVariable))")
            }
        }
        return result.masking([token])
    }

    /// "[#12.3] subject", then the body, within Telegram's limit.
    static func text(of message: OutgoingMessage) -> String {
        let body = message.body.trimmingCharacters(in: .newlines)
        let whole = "\(message.tag) \(message.subjectLine)" + (body.isEmpty ? "" : "\n\(body)")
        guard whole.utf16.count > textLimit else { return whole }
        let marker = "\n[... cut to Telegram's limit]"
        var kept = ""
        var units = 0
        for character in whole {
            let size = character.utf16.count
            guard units + size <= textLimit - marker.utf16.count else { break }
            kept.append(character)
            units += size
        }
        return kept + marker
    }
}
