import Foundation
import RunbookCore
import RunbookModel

public enum IncidentStatus: String, Sendable, Codable, CaseIterable {
    case open, acknowledged, resolved
}

/// Something wrong that people may need to hear about: opened by a check, a service that gave
/// up, or a runbook's `escalate` step; keyed so that repeats land on the same incident.
public struct Incident: Sendable, Equatable, Codable {
    /// 0 until stored.
    public var id: Int64
    /// `check:NAME` or `check:NAME:SUBJECT`, `service:NAME`, `runbook:NAME`.
    public var key: String
    /// The check that opened it, if one did.
    public var check: String?
    /// What it is about, when the check names one (an EA's id).
    public var subject: String?
    public var title: String
    public var severity: Severity
    /// 1 automatic recovery, 2 alert notification, 3 manual intervention, 4 system reset.
    public var level: Int
    public var status: IncidentStatus
    public var openedAt: Date
    /// When it reached its current level: the unacknowledged climb counts from here.
    public var levelAt: Date
    public var acknowledgedAt: Date?
    public var acknowledgedBy: String?
    public var resolvedAt: Date?
    /// The sequence number of its last message (each message carries the next).
    public var lastSequence: Int
    /// Bumped by every change; a change made from an older version is refused and redone.
    public var version: Int

    public init(
        id: Int64 = 0, key: String, check: String? = nil, subject: String? = nil, title: String, severity: Severity, level: Int,
        status: IncidentStatus = .open, openedAt: Date, levelAt: Date? = nil, acknowledgedAt: Date? = nil, acknowledgedBy: String? = nil,
        resolvedAt: Date? = nil, lastSequence: Int = 0, version: Int = 0
    ) {
        self.id = id
        self.key = key
        self.check = check
        self.subject = subject
        self.title = title
        self.severity = severity
        self.level = level
        self.status = status
        self.openedAt = openedAt
        self.levelAt = levelAt ?? openedAt
        self.acknowledgedAt = acknowledgedAt
        self.acknowledgedBy = acknowledgedBy
        self.resolvedAt = resolvedAt
        self.lastSequence = lastSequence
        self.version = version
    }

    /// Stands for a new incident's id in the text of its first messages, written before the id
    /// exists; the store puts the id in when it stores them.
    public static let idPlaceholder = "{incident}"

    public static func levelName(_ level: Int) -> String {
        switch level {
        case 1: "automatic recovery"
        case 2: "alert notification"
        case 3: "manual intervention"
        default: "system reset"
        }
    }
}

/// One line of an incident's timeline.
public struct IncidentEvent: Sendable, Equatable, Codable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        case opened, severity, level, run, notified, suppressed, acknowledged, silenced, resolved
        /// A person asked for something they may not do (a Telegram user not on the allowlist).
        case refused
        /// A person confirmed level 4; it runs once enough different people have.
        case confirmed
        /// A message held by a maintenance window in force (the actor names it), until it ends.
        case held
        /// A maintenance window that held a message ended: it is sent, or dropped.
        case released
    }

    public var incidentID: Int64
    public var at: Date
    public var kind: Kind
    /// Who or what: `check ea-heartbeat`, `run 12`, `engine`, a person's name.
    public var actor: String
    public var detail: String
    /// The incident's level after the event.
    public var level: Int
    public var runID: Int64?

    public init(incidentID: Int64 = 0, at: Date, kind: Kind, actor: String, detail: String, level: Int, runID: Int64? = nil) {
        self.incidentID = incidentID
        self.at = at
        self.kind = kind
        self.actor = actor
        self.detail = detail
        self.level = level
        self.runID = runID
    }
}

/// Notifications of a check held back until `until`.
public struct Silence: Sendable, Equatable, Codable {
    public var id: Int64
    public var check: String
    public var until: Date
    public var reason: String
    public var by: String
    public var createdAt: Date

    public init(id: Int64 = 0, check: String, until: Date, reason: String, by: String, createdAt: Date) {
        self.id = id
        self.check = check
        self.until = until
        self.reason = reason
        self.by = by
        self.createdAt = createdAt
    }
}

/// A message in the outbox, for one channel.
public struct OutboxEntry: Sendable, Equatable, Codable {
    public enum State: String, Sendable, Codable, CaseIterable {
        /// Waiting for its channel (maybe after failed attempts).
        case pending
        /// Handed to the channel; seen at start-up only when the engine stopped mid-send.
        case sending
        case delivered
        /// May or may not have arrived; not resent by itself (`runbook outbox --resend ID`).
        case uncertain
        /// The channel refused it for good and there is no fallback.
        case rejected
        /// Given up on this channel and copied to its fallback.
        case diverted
    }

    public var id: Int64
    /// 0 for a message that is not about an incident (a report).
    public var incidentID: Int64
    public var sequence: Int
    public var channel: String
    public var level: Int
    public var severity: String
    public var subject: String
    public var body: String
    public var createdAt: Date
    public var state: State
    public var attempts: Int
    public var nextAttemptAt: Date
    public var lastError: String?
    public var deliveredAt: Date?
    /// The row this one is the fallback copy of.
    public var fallbackOf: Int64?
    /// The question (an `approve` step's request) this message asks people to answer: Approve
    /// and Reject buttons on Telegram.
    public var approval: Int64?

    public init(
        id: Int64 = 0, incidentID: Int64, sequence: Int, channel: String, level: Int, severity: String, subject: String, body: String,
        createdAt: Date, state: State = .pending, attempts: Int = 0, nextAttemptAt: Date? = nil, lastError: String? = nil,
        deliveredAt: Date? = nil, fallbackOf: Int64? = nil, approval: Int64? = nil
    ) {
        self.approval = approval
        self.id = id
        self.incidentID = incidentID
        self.sequence = sequence
        self.channel = channel
        self.level = level
        self.severity = severity
        self.subject = subject
        self.body = body
        self.createdAt = createdAt
        self.state = state
        self.attempts = attempts
        self.nextAttemptAt = nextAttemptAt ?? createdAt
        self.lastError = lastError
        self.deliveredAt = deliveredAt
        self.fallbackOf = fallbackOf
    }

    /// The copy queued on `channel` when this message is diverted there at `at`.
    /// What a message sent again after its sender died mid-send starts with.
    public static let possibleDuplicate = "possible duplicate: "

    public func fallbackCopy(to channel: String, at: Date) -> OutboxEntry {
        var copy = self
        copy.channel = channel
        copy.state = .pending
        copy.attempts = 0
        copy.createdAt = at
        copy.nextAttemptAt = at
        copy.lastError = nil
        copy.fallbackOf = id
        return copy
    }

    public var outgoing: OutgoingMessage {
        var message = OutgoingMessage(id: id, incidentID: incidentID, sequence: sequence, level: level, severity: severity, subject: subject, body: body)
        message.approval = approval
        return message
    }
}

/// A change to one incident, its timeline and the outbox, applied in one transaction so that a
/// crash never leaves a level raised without its notification written.
public struct IncidentChange: Sendable {
    /// New when its id is 0; otherwise stored only if the stored version is still `version`.
    public var incident: Incident
    public var events: [IncidentEvent]
    public var messages: [OutboxEntry]

    public init(incident: Incident, events: [IncidentEvent] = [], messages: [OutboxEntry] = []) {
        self.incident = incident
        self.events = events
        self.messages = messages
    }
}

/// The incident changed (or a same-key incident opened) since it was read: read and try again.
public struct IncidentConflict: Error, Sendable {
    public init() {}
}

/// Where incidents, their timelines, silences and the outbox are kept. The SQLite adapter
/// implements it in the records database, so that another process (`runbook ack`) sees and
/// changes the same incidents as the engine.
public protocol IncidentStore: Sendable {
    /// Stores the change atomically and returns the incident as stored (with its id and new
    /// version). Throws `IncidentConflict` as described there.
    func apply(_ change: IncidentChange) async throws -> Incident
    func incident(_ id: Int64) async throws -> Incident?
    /// The incident with `key` that is not resolved, if any.
    func unresolvedIncident(key: String) async throws -> Incident?
    func unresolvedIncidents() async throws -> [Incident]
    /// The latest incidents, newest first.
    func incidents(limit: Int) async throws -> [Incident]
    /// The latest incidents in `status`, newest first.
    func incidents(status: IncidentStatus, limit: Int) async throws -> [Incident]
    func events(of incident: Int64) async throws -> [IncidentEvent]
    /// When a message of an incident with `key` was last queued, and its severity.
    func lastNotification(key: String) async throws -> (at: Date, severity: Severity)?
    /// The channels an incident's messages went to (whatever became of them).
    func channelsNotified(incident: Int64) async throws -> [String]
    func addSilence(_ silence: Silence) async throws -> Silence
    func silences(activeAt: Date) async throws -> [Silence]
    /// Stores a maintenance window and returns it with its id.
    func addWindow(_ window: MaintenanceWindow) async throws -> MaintenanceWindow
    /// Every maintenance window, oldest first.
    func windows() async throws -> [MaintenanceWindow]
    /// Removes window `id`; false when there is none.
    func removeWindow(_ id: Int64) async throws -> Bool
    /// The check that started a run, when a check did.
    func checkOfRun(_ runID: Int64) async throws -> String?

    /// Queues messages that belong to no incident.
    func enqueue(_ messages: [OutboxEntry]) async throws
    /// The channel's oldest message still to send (pending), whatever its next attempt time: a
    /// channel's messages go out in order.
    func outboxHead(channel: String) async throws -> OutboxEntry?
    /// Takes the channel's oldest message still to send, if it is due at `now`, for this process
    /// to send: marks it `sending` with one more attempt, in one statement, so that two engines
    /// never both take it. A message another process is sending is not taken (and the channel's
    /// later messages wait behind it); one this process was sending (its outcome could not be
    /// written) is taken again.
    func claimOutboxHead(channel: String, at now: Date) async throws -> OutboxClaim
    func updateOutbox(_ entry: OutboxEntry) async throws
    /// Marks `entry` diverted and queues a copy for `channel`, in one transaction.
    func divert(_ entry: OutboxEntry, to channel: String, reason: String, at: Date) async throws
    /// Messages in `states`, oldest first.
    func outbox(states: Set<OutboxEntry.State>, limit: Int) async throws -> [OutboxEntry]
    /// The messages queued for one incident, oldest first.
    func outbox(incident: Int64) async throws -> [OutboxEntry]
    /// Queues an uncertain or refused message again, as a new attempt on its channel; any other
    /// message is returned as it is. Nil when there is no message `id`.
    func resend(_ id: Int64, at: Date) async throws -> OutboxEntry?
    /// Marks the messages left `sending` by an engine that stopped mid-send as uncertain.
    func markInterruptedSends() async throws -> Int
    /// Queues the messages left `sending` by an engine that stopped mid-send again, their
    /// subject starting with `Incident.possibleDuplicate`: for a leader taking over from one
    /// that died, which cannot ask whether they arrived.
    func resendInterruptedSends() async throws -> Int
    /// How many messages each channel holds in each state other than delivered and diverted.
    func outboxDepth() async throws -> [OutboxDepth]
}

/// Messages of one channel in one state.
public struct OutboxDepth: Sendable, Equatable {
    public var channel: String
    public var state: OutboxEntry.State
    public var count: Int

    public init(channel: String, state: OutboxEntry.State, count: Int) {
        self.channel = channel
        self.state = state
        self.count = count
    }
}

/// What `claimOutboxHead` found at the head of a channel.
public enum OutboxClaim: Sendable, Equatable {
    /// Nothing to send on the channel.
    case empty
    /// Its oldest message is not due yet.
    case notDue(OutboxEntry)
    /// Its oldest message is being sent by another process.
    case sentElsewhere
    /// Taken for sending: `sending`, with its attempts counted.
    case claimed(OutboxEntry)
}
