import Foundation
import Logging
import RunbookCore
import RunbookEscalation
import RunbookModel
import ServiceLifecycle
import Synchronization

/// What a button under an incident's message does.
public enum TelegramAct: String, Sendable, CaseIterable {
    case acknowledge = "ack"
    case silence
    case resolve
    case run
    case confirmReset = "reset"
    case closeGate = "gate"
    /// Answers to a run waiting at an `approve` step: the number is the question's.
    case approve
    case reject

    /// Whether the number after the act is a question's (an approval) rather than an incident's.
    public var isApproval: Bool { self == .approve || self == .reject }
}

/// A button pressed on a phone, as the Bot API's `callback_query` gives it.
public struct TelegramPress: Sendable, Equatable {
    public var callbackID: String
    public var userID: Int64
    /// `@username`, or the first name when the account has none.
    public var name: String
    public var act: TelegramAct?
    public var incidentID: Int64?
    /// The message the button is under, to edit.
    public var chatID: Int64?
    public var messageID: Int64?
    public var text: String?
    /// The message's buttons, JSON: an edit keeps them, so the next person can press too.
    public var keyboard: Data?

    public init(callbackID: String, userID: Int64, name: String, data: String, chatID: Int64? = nil, messageID: Int64? = nil, text: String? = nil, keyboard: Data? = nil) {
        self.keyboard = keyboard
        self.callbackID = callbackID
        self.userID = userID
        self.name = name
        let parts = data.split(separator: ":", maxSplits: 1).map(String.init)
        act = parts.first.flatMap(TelegramAct.init(rawValue:))
        incidentID = parts.count == 2 ? Int64(parts[1]) : nil
        self.chatID = chatID
        self.messageID = messageID
        self.text = text
    }
}

/// What the engine answers a press with: a short notice on the presser's phone, and a line added
/// under the message for everyone in the chat.
public struct TelegramReply: Sendable, Equatable {
    public var answer: String
    public var note: String?

    public init(answer: String, note: String? = nil) {
        self.answer = answer
        self.note = note
    }
}

/// Reads the presses on the buttons under incident messages with the Bot API's `getUpdates`
/// long polling (no inbound port), answers each (`answerCallbackQuery`) and notes what was done
/// under its message (`editMessageText`). The offset is kept in a file, so an engine restarted
/// does not act twice on a press; an outage is waited out with backoff, a 429 for its
/// `retry_after`. Runs while `leading` says so (one engine of a fleet polls).
public final class TelegramUpdates: Service, Sendable {
    public let channel: String
    private let settings: ChannelSettings.Telegram
    private let environment: EnvironmentLookup
    private let offsetFile: String
    private let leading: @Sendable () -> Bool
    private let handle: @Sendable (TelegramPress) async -> TelegramReply
    private let logger: Logger
    /// The text each message was last edited to, by message id.
    private let edited = Mutex<[Int64: String]>([:])
    /// How long Telegram holds a `getUpdates` open waiting for a press.
    let pollSeconds: Int
    /// The longest wait after failures in a row.
    let maximumBackoff: Duration

    public init(
        channel: String, settings: ChannelSettings.Telegram, environment: @escaping EnvironmentLookup, offsetFile: String, pollSeconds: Int = 20,
        maximumBackoff: Duration = .seconds(60), leading: @escaping @Sendable () -> Bool = { true }, logger: Logger,
        handle: @escaping @Sendable (TelegramPress) async -> TelegramReply
    ) {
        self.channel = channel
        self.settings = settings
        self.environment = environment
        self.offsetFile = offsetFile
        self.pollSeconds = pollSeconds
        self.maximumBackoff = maximumBackoff
        self.leading = leading
        self.logger = logger
        self.handle = handle
    }

    /// The next update to ask for, as last kept; nil before any.
    var offset: Int64? {
        (try? String(contentsOfFile: offsetFile, encoding: .utf8)).flatMap { Int64($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    private func keep(offset: Int64) {
        let temporary = offsetFile + ".new"
        do {
            try Data("\(offset)\n".utf8).write(to: URL(fileURLWithPath: temporary))
            _ = rename(temporary, offsetFile)
        } catch {
            logger.error("cannot keep the Telegram offset in \(offsetFile): \(error); a restart may act again on the last presses")
        }
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            var failures = 0
            while !Task.isCancelled {
                guard self.leading() else {
                    try? await Task.sleep(for: .seconds(1))
                    continue
                }
                let wait = await self.poll()
                if let wait {
                    failures += 1
                    let backoff = min(self.maximumBackoff, .seconds(1) * (1 << min(failures - 1, 10)))
                    try? await Task.sleep(for: max(wait, backoff))
                } else {
                    failures = 0
                }
            }
        }
    }

    /// One `getUpdates`, and every press it brings handled; how long to wait before the next
    /// after a failure (a 429's `retry_after`, or zero for backoff alone), nil after success.
    func poll() async -> Duration? {
        guard let token = environment(settings.tokenVariable), !token.isEmpty else {
            logger.warning("the bot token's environment variable \(settings.tokenVariable) is not set: presses on \(channel)'s buttons are not read")
            return .seconds(30)
        }
        var request: [String: Any] = ["timeout": pollSeconds, "allowed_updates": ["callback_query"]]
        let kept = offset
        if let kept { request["offset"] = kept }
        let answer = await call("getUpdates", request, token: token, timeout: .seconds(pollSeconds + 10))
        switch answer {
        case .failed(let reason, let retryAfter):
            if !Task.isCancelled { logger.warning("reading presses on \(channel): \(reason)") }
            return retryAfter ?? .zero
        case .ok(let result):
            let updates = (result as? [[String: Any]]) ?? []
            // With no offset kept (a first start, a new data folder), what waits may be a day
            // old: it is passed over, not acted on.
            if kept == nil, !updates.isEmpty {
                logger.warning("\(updates.count) press(es) on \(channel)'s buttons from before this engine kept its place were passed over, not acted on")
            }
            for update in updates {
                guard let id = (update["update_id"] as? NSNumber)?.int64Value else { continue }
                if kept != nil, let query = update["callback_query"] as? [String: Any], let press = Self.press(query) {
                    await act(on: press, token: token)
                }
                keep(offset: id + 1)
            }
            if kept == nil, updates.isEmpty, !FileManager.default.fileExists(atPath: offsetFile) { keep(offset: 0) }
            return nil
        }
    }

    static func press(_ query: [String: Any]) -> TelegramPress? {
        guard let id = query["id"] as? String, let from = query["from"] as? [String: Any], let user = (from["id"] as? NSNumber)?.int64Value else { return nil }
        // A name its owner chose goes on the timeline, in logs and under the message: shown
        // printable, never as a line break or a right-to-left override.
        let chosen = (from["username"] as? String).map { "@\($0)" } ?? (from["first_name"] as? String).map { $0.hasPrefix("@") ? String($0.dropFirst()) : $0 }
        let name = chosen.map(printable) ?? "user \(user)"
        let message = query["message"] as? [String: Any]
        return TelegramPress(
            callbackID: id, userID: user, name: String(name.prefix(64)), data: query["data"] as? String ?? "",
            chatID: ((message?["chat"] as? [String: Any])?["id"] as? NSNumber)?.int64Value, messageID: (message?["message_id"] as? NSNumber)?.int64Value,
            text: message?["text"] as? String, keyboard: (message?["reply_markup"]).flatMap { try? JSONSerialization.data(withJSONObject: $0) }
        )
    }

    private func act(on press: TelegramPress, token: String) async {
        let reply = await handle(press)
        if case .failed(let reason, _) = await call("answerCallbackQuery", ["callback_query_id": press.callbackID, "text": String(reply.answer.prefix(190))], token: token) {
            logger.warning("cannot answer a press on \(channel): \(reason)")
        }
        guard let note = reply.note, let chat = press.chatID, let message = press.messageID else { return }
        // Two presses read together both add their line: the second edits the first's text.
        let before = edited.withLock { $0[message] } ?? press.text ?? ""
        let text = String((before + "\n" + note).suffix(TelegramChannel.textLimit))
        edited.withLock { $0[message] = text; if $0.count > 1000 { $0.removeAll() } }
        var request: [String: Any] = ["chat_id": chat, "message_id": message, "text": text]
        if let keyboard = press.keyboard.flatMap({ try? JSONSerialization.jsonObject(with: $0) }) { request["reply_markup"] = keyboard }
        if case .failed(let reason, _) = await call("editMessageText", request, token: token) {
            logger.warning("cannot note a press under its message on \(channel): \(reason)")
        }
    }

    enum Answer {
        case ok(Any)
        case failed(String, retryAfter: Duration?)
    }

    /// One Bot API call; a failure's reason never holds the token (it is part of the URL).
    private func call(_ method: String, _ request: [String: Any], token: String, timeout: Duration = .seconds(10)) async -> Answer {
        switch await callUnmasked(method, request, token: token, timeout: timeout) {
        case .ok(let result): .ok(result)
        case .failed(let reason, let retryAfter): .failed(reason.replacingOccurrences(of: token, with: "***"), retryAfter: retryAfter)
        }
    }

    private func callUnmasked(_ method: String, _ request: [String: Any], token: String, timeout: Duration) async -> Answer {
        let json = (try? JSONSerialization.data(withJSONObject: request, options: [.sortedKeys])) ?? Data()
        let outcome = await JSONPost(url: "\(settings.baseURL)/bot\(token)/\(method)", json: json, timeout: timeout, bodyLimit: 1 << 20).send()
        if let failure = outcome.failure { return .failed("\(method): \(failure)", retryAfter: nil) }
        let answer = (try? JSONSerialization.jsonObject(with: outcome.body)) as? [String: Any]
        if answer?["ok"] as? Bool == true { return .ok(answer?["result"] ?? NSNull()) }
        let retryAfter = ((answer?["parameters"] as? [String: Any])?["retry_after"] as? NSNumber).map { Duration.seconds($0.intValue) }
        return .failed("\(method) answered \(outcome.status): \(answer?["description"] as? String ?? JSONPost.excerpt(outcome.body))", retryAfter: retryAfter)
    }
}
