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
        var request: [String: Any] = ["chat_id": settings.chatID, "text": Self.text(of: message)]
        if let keyboard = Self.keyboard(for: message, settings: settings) { request["reply_markup"] = keyboard }
        let json = (try? JSONSerialization.data(withJSONObject: request, options: [.sortedKeys])) ?? Data()
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

    /// The buttons under an incident's message, for people on `allowed_users` to act from their
    /// phone (`TelegramUpdates` reads the presses): none on a resolve, a notice, or a channel
    /// nobody may act on. Each press names its act and the incident: `ack:12`.
    static func keyboard(for message: OutgoingMessage, settings: ChannelSettings.Telegram) -> [String: Any]? {
        // A question of an `approve` step: the press names the question, not only its run.
        if let question = message.approval, question > 0, !settings.allowedUsers.isEmpty {
            return ["inline_keyboard": [[
                ["text": "Approve", "callback_data": "\(TelegramAct.approve.rawValue):\(question)"],
                ["text": "Reject", "callback_data": "\(TelegramAct.reject.rawValue):\(question)"],
            ]]]
        }
        guard !settings.allowedUsers.isEmpty, message.incidentID > 0, message.severity != "resolved" else { return nil }
        func button(_ text: String, _ act: TelegramAct) -> [String: String] {
            ["text": text, "callback_data": "\(act.rawValue):\(message.incidentID)"]
        }
        var rows = [
            [button("Acknowledge", .acknowledge), button("Silence 1h", .silence)],
            [button("Run its runbook", .run), button("Resolve", .resolve)],
            [button("Close the gate", .closeGate)],
        ]
        if message.level >= 3 { rows[2].append(button("Confirm level 4", .confirmReset)) }
        return ["inline_keyboard": rows]
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

extension ChannelSettings {
    /// Telegram Bot API `sendMessage` to one chat.
    public struct Telegram: ChannelKind, Equatable {
        public static let spec = ChannelSpec(type: "telegram", keys: ["chat_id", "token_env", "base_url", "allowed_users", "confirmations"], secretKey: "token_env")
        /// The API's base URL; tests point it at a local server.
        public var baseURL = "https://api.telegram.org"
        /// The environment variable holding the bot token.
        public var tokenVariable = "TELEGRAM_BOT_TOKEN"
        public var chatID: String
        /// Telegram user ids who may act on incidents with the buttons under their messages;
        /// none: the messages carry no buttons.
        public var allowedUsers: [Int64] = []
        /// How many different people must press Confirm before level 4 (emergency-recovery) runs.
        public var confirmations = 2

        public init(chatID: String) { self.chatID = chatID }

        public static func read(_ fields: inout ChannelFields) -> Self? {
            let what = fields.what
            guard let chatID = fields.required("chat_id", example: "\"-1001234567890\""), let chatField = fields.field("chat_id") else { return nil }
            let isNumber = Int64(chatID) != nil
            let isUsername = chatID.hasPrefix("@") && chatID.count > 1 && ChannelSettings.isVariableName(String(chatID.dropFirst()))
            guard isNumber || isUsername else {
                fields.error(chatField, "\(what).chat_id '\(chatID)' is not a chat: write the chat's number, such as \"-1001234567890\", or a public channel's @username")
                return nil
            }
            var telegram = Telegram(chatID: chatID)
            if let list = fields.field("allowed_users") {
                for item in fields.items(list) {
                    guard let text = fields.string(item, what: "\(what).allowed_users") else { return nil }
                    guard let id = Int64(text), id > 0 else {
                        fields.error(item, "\(what).allowed_users '\(text)' is not a Telegram user id: write the numbers, such as [123456789], that the people's accounts have (a bot such as @userinfobot tells them theirs)")
                        return nil
                    }
                    telegram.allowedUsers.append(id)
                }
            }
            if let field = fields.field("confirmations") {
                guard let text = fields.string(field, what: "\(what).confirmations"), let count = Int(text), (1...10).contains(count) else {
                    fields.error(field, "\(what).confirmations must be a whole number from 1 to 10: how many different people must confirm level 4")
                    return nil
                }
                telegram.confirmations = count
            }
            if let variable = fields.variable("token_env", example: "HOOK_TOKEN") { telegram.tokenVariable = variable }
            if case let (value, parts)? = fields.url("base_url", schemes: ["https", "http"], example: "https://api.telegram.org", login: "token_env"),
               let place = fields.field("base_url") {
                if parts.path.range(of: #"/bot[0-9]+:"#, options: .regularExpression) != nil {
                    fields.error(place, "\(what).base_url holds a bot token: write only the API's address, such as https://api.telegram.org, and name the token's variable with token_env", masking: parts.path)
                    return nil
                }
                if parts.query != nil || parts.fragment != nil {
                    fields.error(place, "\(what).base_url '\(value)' must not have a query: write only the API's address, such as https://api.telegram.org")
                    return nil
                }
                telegram.baseURL = value.hasSuffix("/") ? String(value.dropLast()) : value
            }
            return telegram
        }

        public func channel(name: String, timeout: Duration, environment: @escaping EnvironmentLookup) -> any NotificationChannel {
            TelegramChannel(name: name, settings: self, timeout: timeout, environment: environment)
        }
    }
}
