import Foundation

/// One notification as a channel sends it: what the outbox holds for one channel.
public struct OutgoingMessage: Sendable, Equatable {
    /// The outbox row, unique per message and channel.
    public var id: Int64
    /// The incident the message is about, and its number within that incident (1, 2, ...), both
    /// shown in the message so that a reader can tell a repeat or a gap.
    public var incidentID: Int64
    public var sequence: Int
    /// The incident's level when the message was written (1-4), and its severity ("warning",
    /// "critical", "resolved", "info").
    public var level: Int
    public var severity: String
    /// One line, for an e-mail's Subject and the first line of a chat message.
    public var subject: String
    /// Plain text; lines separated by "\n" (e-mail turns them into CRLF).
    public var body: String
    /// The question (an `approve` step's request) the message asks people to answer, if it does.
    public var approval: Int64?

    public init(id: Int64, incidentID: Int64, sequence: Int, level: Int, severity: String, subject: String, body: String) {
        self.id = id
        self.incidentID = incidentID
        self.sequence = sequence
        self.level = level
        self.severity = severity
        self.subject = subject
        self.body = body
    }
}

/// How one delivery attempt ended.
public enum DeliveryResult: Sendable, Equatable {
    /// The channel took the message.
    case delivered
    /// Not delivered, and safe to send again: the channel was unreachable, refused the
    /// connection, answered 5xx or 429. `after` is the wait the channel asked for (Telegram's
    /// `retry_after`), if it said one.
    case retry(after: Duration?, reason: String)
    /// The message may or may not have arrived (a timeout after it was sent): sending it again
    /// could duplicate it, so it is not resent by itself.
    case uncertain(reason: String)
    /// The channel will never take this message (a 4xx other than 429, a bad address): not
    /// retried on this channel.
    case rejected(reason: String)
}

/// A way to reach people: Telegram, e-mail, a webhook. Implementations never put a secret (a bot
/// token, a password) in a result's reason, a log line or an error.
public protocol NotificationChannel: Sendable {
    /// The channel's name in `runbook.yaml`.
    var name: String { get }
    /// The least time between two messages on this channel (Telegram: about one a second per
    /// chat); the outbox worker keeps to it.
    var minimumInterval: Duration { get }
    /// Sends one message; never throws: every outcome is a `DeliveryResult`.
    func deliver(_ message: OutgoingMessage) async -> DeliveryResult
}
