import Foundation
import PostgresNIO
import RunbookCore
import RunbookEscalation
import RunbookModel

/// Incidents, their timelines, silences and the outbox in PostgreSQL, shared by the engines that
/// share the records: one incident per key whichever engine raises it, one outbox.
/// `checkOfRun` reads the run recorder's `runs` table, which is in the same database.
public final class PostgresIncidentStore: IncidentStore, Sendable {
    private let database: PostgresDatabase
    /// Who takes outbox messages for sending: the engine and this process (as the lease's holder).
    private let sender: String

    init(_ database: PostgresDatabase, engine: String) {
        self.database = database
        self.sender = PostgresFleet.holder(engine)
    }

    public func apply(_ change: IncidentChange) async throws -> Incident {
        do {
            return try await database.recordInTransaction { connection in
                var stored = change.incident
                if stored.id == 0 {
                    stored.version = 1
                    let incident = stored
                    // The unique index on unresolved keys refuses a second one (23505), even
                    // from another engine at the same moment.
                    stored.id = try await connection.row("""
                        INSERT INTO incidents (key, check_name, subject, title, severity, level, status, opened_at, level_at, acknowledged_at,
                            acknowledged_by, resolved_at, last_sequence, version)
                        VALUES (\(incident.key), \(incident.check), \(incident.subject), \(incident.title), \(incident.severity.rawValue), \(incident.level),
                            \(incident.status.rawValue), \(Stamp(incident.openedAt)), \(Stamp(incident.levelAt)), \(incident.acknowledgedAt.map(Stamp.init)),
                            \(incident.acknowledgedBy), \(incident.resolvedAt.map(Stamp.init)), \(incident.lastSequence), \(incident.version))
                        RETURNING id
                        """) { try $0("id", as: Int64.self) }!
                } else {
                    let incident = stored
                    let updated = try await connection.count("""
                        UPDATE incidents SET key = \(incident.key), check_name = \(incident.check), subject = \(incident.subject), title = \(incident.title),
                            severity = \(incident.severity.rawValue), level = \(incident.level), status = \(incident.status.rawValue),
                            opened_at = \(Stamp(incident.openedAt)), level_at = \(Stamp(incident.levelAt)),
                            acknowledged_at = \(incident.acknowledgedAt.map(Stamp.init)), acknowledged_by = \(incident.acknowledgedBy),
                            resolved_at = \(incident.resolvedAt.map(Stamp.init)), last_sequence = \(incident.lastSequence), version = \(incident.version + 1)
                        WHERE id = \(incident.id) AND version = \(incident.version) RETURNING 1
                        """)
                    if updated == 0 { throw IncidentConflict() }
                    stored.version += 1
                }
                for event in change.events {
                    try await connection.sql("""
                        INSERT INTO incident_events (incident_id, at, kind, actor, detail, level, run_id)
                        VALUES (\(stored.id), \(Stamp(event.at)), \(event.kind.rawValue), \(event.actor), \(event.detail), \(event.level), \(event.runID))
                        """)
                }
                for var message in change.messages {
                    message.incidentID = stored.id
                    message.subject = message.subject.replacingOccurrences(of: Incident.idPlaceholder, with: String(stored.id))
                    message.body = message.body.replacingOccurrences(of: Incident.idPlaceholder, with: String(stored.id))
                    try await Self.insert(message, on: connection)
                }
                return stored
            }
        } catch let error as PostgresStoreError where error.sqlState == "23505" {
            throw IncidentConflict()
        }
    }

    public func incident(_ id: Int64) async throws -> Incident? {
        try await database.record { try await $0.row("SELECT * FROM incidents WHERE id = \(id)", Self.incident) }
    }

    public func unresolvedIncident(key: String) async throws -> Incident? {
        try await database.record { try await $0.row("SELECT * FROM incidents WHERE key = \(key) AND status != 'resolved'", Self.incident) }
    }

    public func unresolvedIncidents() async throws -> [Incident] {
        try await database.record { try await $0.rows("SELECT * FROM incidents WHERE status != 'resolved' ORDER BY id", Self.incident) }
    }

    public func incidents(limit: Int) async throws -> [Incident] {
        try await database.record { try await $0.rows("SELECT * FROM incidents ORDER BY id DESC LIMIT \(limit)", Self.incident) }
    }

    public func incidents(status: IncidentStatus, limit: Int) async throws -> [Incident] {
        try await database.record { try await $0.rows("SELECT * FROM incidents WHERE status = \(status.rawValue) ORDER BY id DESC LIMIT \(limit)", Self.incident) }
    }

    public func events(of incident: Int64) async throws -> [IncidentEvent] {
        try await database.record { connection in
            try await connection.rows("SELECT * FROM incident_events WHERE incident_id = \(incident) ORDER BY id") { row in
                IncidentEvent(
                    incidentID: try row("incident_id"), at: try row.date("at"), kind: IncidentEvent.Kind(rawValue: try row("kind")) ?? .opened,
                    actor: try row("actor"), detail: try row("detail"), level: try row("level"), runID: try row("run_id")
                )
            }
        }
    }

    public func lastNotification(key: String) async throws -> (at: Date, severity: Severity)? {
        let last = try await database.record { connection in
            try await connection.row("""
                SELECT o.created_at AS at, o.severity AS severity FROM outbox o JOIN incidents i ON i.id = o.incident_id
                WHERE i.key = \(key) AND o.severity != 'resolved' AND o.fallback_of IS NULL ORDER BY o.id DESC LIMIT 1
                """) { Notified(at: try $0.date("at"), severity: Severity(rawValue: try $0("severity")) ?? .info) }
        }
        return last.map { ($0.at, $0.severity) }
    }

    private struct Notified: Sendable {
        var at: Date
        var severity: Severity
    }

    public func channelsNotified(incident: Int64) async throws -> [String] {
        try await database.record { connection in
            try await connection.rows("SELECT channel FROM outbox WHERE incident_id = \(incident) GROUP BY channel ORDER BY min(id)") { try $0("channel", as: String.self) }
        }
    }

    public func addSilence(_ silence: Silence) async throws -> Silence {
        try await database.record { connection in
            var stored = silence
            stored.id = try await connection.row("""
                INSERT INTO silences (check_name, until, reason, created_by, created_at)
                VALUES (\(silence.check), \(Stamp(silence.until)), \(silence.reason), \(silence.by), \(Stamp(silence.createdAt)))
                RETURNING id
                """) { try $0("id", as: Int64.self) }!
            return stored
        }
    }

    public func silences(activeAt date: Date) async throws -> [Silence] {
        try await database.record { connection in
            try await connection.rows("SELECT * FROM silences WHERE until > \(Stamp(date)) ORDER BY until DESC") { row in
                Silence(
                    id: try row("id"), check: try row("check_name"), until: try row.date("until"), reason: try row("reason"), by: try row("created_by"),
                    createdAt: try row.date("created_at")
                )
            }
        }
    }

    public func addWindow(_ window: MaintenanceWindow) async throws -> MaintenanceWindow {
        try await database.record { connection in
            var stored = window
            let columns = window.columns
            stored.id = try await connection.row("""
                INSERT INTO maintenance_windows (target, cron, zone, length_seconds, during, reason, created_by, created_at, hold_runs, at_end)
                VALUES (
                    \(window.target), \(columns.cron), \(columns.zone), \(columns.lengthSeconds), \(columns.during), \(window.reason), \(window.by),
                    \(Stamp(window.createdAt)), \(window.holdRuns), \(window.atEnd.rawValue)
                )
                RETURNING id
                """) { try $0("id", as: Int64.self) }!
            return stored
        }
    }

    public func windows() async throws -> [MaintenanceWindow] {
        try await database.record { connection in
            // A window this machine cannot read (a zone its time zone data lacks) is left out, not
            // every window with it.
            try await connection.rows("SELECT * FROM maintenance_windows ORDER BY id") { row -> MaintenanceWindow? in
                let id = try row("id", as: Int64.self)
                guard let recurrence = try? MaintenanceWindow.recurrence(
                    id: id, cron: try row("cron", as: String?.self), zone: try row("zone", as: String?.self),
                    lengthSeconds: try row("length_seconds", as: Int64?.self), during: try row("during", as: String?.self)
                ) else { return nil }
                return MaintenanceWindow(
                    id: id, target: try row("target"), recurrence: recurrence, reason: try row("reason"), by: try row("created_by"),
                    createdAt: try row.date("created_at"), holdRuns: try row("hold_runs"),
                    atEnd: MaintenanceWindow.AtEnd(rawValue: try row("at_end", as: String.self)) ?? .send
                )
            }.compactMap { $0 }
        }
    }

    public func removeWindow(_ id: Int64) async throws -> Bool {
        try await database.record { connection in
            try await connection.row("DELETE FROM maintenance_windows WHERE id = \(id) RETURNING id") { try $0("id", as: Int64.self) } != nil
        }
    }

    public func checkOfRun(_ runID: Int64) async throws -> String? {
        try await database.record { connection in
            // A child run belongs to its parent's trigger.
            try await connection.row("""
                WITH RECURSIVE chain AS (
                    SELECT id, trigger, trigger_source, parent_run_id, 0 AS depth FROM runs WHERE id = \(runID)
                    UNION ALL
                    SELECT r.id, r.trigger, r.trigger_source, r.parent_run_id, c.depth + 1 FROM runs r JOIN chain c ON r.id = c.parent_run_id
                    WHERE c.trigger != 'check' AND c.depth < 1000
                )
                SELECT trigger_source FROM chain WHERE trigger = 'check' ORDER BY depth LIMIT 1
                """) { try $0("trigger_source", as: String?.self) } ?? nil
        }
    }

    // MARK: The outbox

    public func enqueue(_ messages: [OutboxEntry]) async throws {
        try await database.recordInTransaction { connection in
            for message in messages { try await Self.insert(message, on: connection) }
        }
    }

    public func outboxHead(channel: String) async throws -> OutboxEntry? {
        try await database.record { connection in
            try await connection.row("SELECT * FROM outbox WHERE channel = \(channel) AND state IN ('pending', 'sending') ORDER BY id LIMIT 1", Self.entry)
        }
    }

    /// The head is found first and then locked with `SKIP LOCKED`: a head another engine is
    /// taking at this moment is not waited for, and the message behind it is not taken out of turn.
    public func claimOutboxHead(channel: String, at now: Date) async throws -> OutboxClaim {
        let sender = sender
        return try await database.recordInTransaction { connection in
            let head = try await connection.row("SELECT id FROM outbox WHERE channel = \(channel) AND state IN ('pending', 'sending') ORDER BY id LIMIT 1") {
                try $0("id", as: Int64.self)
            }
            guard let head else { return .empty }
            let locked = try await connection.row("SELECT * FROM outbox WHERE id = \(head) AND state IN ('pending', 'sending') FOR UPDATE SKIP LOCKED") {
                (entry: try Self.entry($0), claimedBy: try $0("claimed_by", as: String?.self))
            }
            guard var (entry, claimedBy) = locked else { return .sentElsewhere }
            guard entry.nextAttemptAt <= now else { return .notDue(entry) }
            if entry.state == .sending, claimedBy != sender { return .sentElsewhere }
            entry.state = .sending
            entry.attempts += 1
            try await connection.sql("UPDATE outbox SET state = 'sending', attempts = \(entry.attempts), claimed_by = \(sender) WHERE id = \(head)")
            return .claimed(entry)
        }
    }

    public func updateOutbox(_ entry: OutboxEntry) async throws {
        try await database.record { connection in
            try await connection.sql("""
                UPDATE outbox SET state = \(entry.state.rawValue), attempts = \(entry.attempts), next_attempt_at = \(Stamp(entry.nextAttemptAt)),
                    last_error = \(entry.lastError), delivered_at = \(entry.deliveredAt.map(Stamp.init))
                WHERE id = \(entry.id)
                """)
        }
    }

    public func divert(_ entry: OutboxEntry, to channel: String, reason: String, at: Date) async throws {
        try await database.recordInTransaction { connection in
            try await connection.sql("UPDATE outbox SET state = 'diverted', attempts = \(entry.attempts), last_error = \(reason) WHERE id = \(entry.id)")
            try await Self.insert(entry.fallbackCopy(to: channel, at: at), on: connection)
        }
    }

    public func outbox(states: Set<OutboxEntry.State>, limit: Int) async throws -> [OutboxEntry] {
        let names = states.map(\.rawValue).sorted()
        return try await database.record { connection in
            try await connection.rows("SELECT * FROM outbox WHERE state = ANY(\(names)) ORDER BY id DESC LIMIT \(limit)", Self.entry).reversed()
        }
    }

    public func outbox(incident: Int64) async throws -> [OutboxEntry] {
        try await database.record { try await $0.rows("SELECT * FROM outbox WHERE incident_id = \(incident) ORDER BY id", Self.entry) }
    }

    public func markInterruptedSends() async throws -> Int {
        try await database.record { connection in
            try await connection.count("UPDATE outbox SET state = 'uncertain', last_error = 'the engine stopped while sending it' WHERE state = 'sending' RETURNING 1")
        }
    }

    public func resendInterruptedSends() async throws -> Int {
        try await database.record { connection in
            try await connection.count("""
                UPDATE outbox SET state = 'pending', subject = \(OutboxEntry.possibleDuplicate) || subject,
                    last_error = 'the engine sending it stopped mid-send: sent again, marked as a possible duplicate'
                WHERE state = 'sending' RETURNING 1
                """)
        }
    }

    public func outboxDepth() async throws -> [OutboxDepth] {
        try await database.record { connection in
            try await connection.rows("""
                SELECT channel, state, count(*) AS count FROM outbox WHERE state NOT IN ('delivered', 'diverted')
                GROUP BY channel, state ORDER BY channel, state
                """) { row -> OutboxDepth? in
                guard let state = OutboxEntry.State(rawValue: try row("state")) else { return nil }
                return OutboxDepth(channel: try row("channel"), state: state, count: try row("count"))
            }.compactMap { $0 }
        }
    }

    public func resend(_ id: Int64, at: Date) async throws -> OutboxEntry? {
        try await database.recordInTransaction { connection in
            guard var entry = try await connection.row("SELECT * FROM outbox WHERE id = \(id) FOR UPDATE", Self.entry) else { return nil }
            guard [.uncertain, .rejected].contains(entry.state) else { return entry }
            try await connection.sql("UPDATE outbox SET state = 'pending', next_attempt_at = \(Stamp(at)), last_error = NULL WHERE id = \(id)")
            entry.state = .pending
            return entry
        }
    }

    // MARK: Rows

    private static func incident(_ row: Columns) throws -> Incident {
        Incident(
            id: try row("id"), key: try row("key"), check: try row("check_name"), subject: try row("subject"), title: try row("title"),
            severity: Severity(rawValue: try row("severity")) ?? .critical, level: try row("level"),
            status: IncidentStatus(rawValue: try row("status")) ?? .open, openedAt: try row.date("opened_at"), levelAt: try row.date("level_at"),
            acknowledgedAt: try row.date(optional: "acknowledged_at"), acknowledgedBy: try row("acknowledged_by"),
            resolvedAt: try row.date(optional: "resolved_at"), lastSequence: try row("last_sequence"), version: try row("version")
        )
    }

    private static func insert(_ message: OutboxEntry, on connection: PostgresConnection) async throws {
        try await connection.sql("""
            INSERT INTO outbox (incident_id, sequence, channel, level, severity, subject, body, created_at, state, attempts, next_attempt_at,
                last_error, delivered_at, fallback_of, approval_id)
            VALUES (\(message.incidentID), \(message.sequence), \(message.channel), \(message.level), \(message.severity), \(message.subject),
                \(message.body), \(Stamp(message.createdAt)), \(message.state.rawValue), \(message.attempts), \(Stamp(message.nextAttemptAt)),
                \(message.lastError), \(message.deliveredAt.map(Stamp.init)), \(message.fallbackOf), \(message.approval))
            """)
    }

    private static func entry(_ row: Columns) throws -> OutboxEntry {
        OutboxEntry(
            id: try row("id"), incidentID: try row("incident_id"), sequence: try row("sequence"), channel: try row("channel"), level: try row("level"),
            severity: try row("severity"), subject: try row("subject"), body: try row("body"), createdAt: try row.date("created_at"),
            state: OutboxEntry.State(rawValue: try row("state")) ?? .pending, attempts: try row("attempts"), nextAttemptAt: try row.date("next_attempt_at"),
            lastError: try row("last_error"), deliveredAt: try row.date(optional: "delivered_at"), fallbackOf: try row("fallback_of"),
            approval: try row("approval_id")
        )
    }
}
