import Foundation
import GRDB
import RunbookCore
import RunbookEscalation
import RunbookModel

/// Incidents, their timelines, silences and the outbox, in the records database. `checkOfRun`
/// reads the run recorder's `runs` table, which is in the same file.
public final class SQLiteIncidentStore: IncidentStore, RecordsMigrations, Sendable {
    private let database: any DatabaseWriter

    init(_ database: any DatabaseWriter) {
        self.database = database
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v6: incidents, silences and the outbox") { db in
            try db.create(table: "incidents") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("key", .text).notNull()
                t.column("check_name", .text)
                t.column("subject", .text)
                t.column("title", .text).notNull()
                t.column("severity", .text).notNull()
                t.column("level", .integer).notNull()
                t.column("status", .text).notNull()
                t.column("opened_at", .datetime).notNull()
                t.column("level_at", .datetime).notNull()
                t.column("acknowledged_at", .datetime)
                t.column("acknowledged_by", .text)
                t.column("resolved_at", .datetime)
                t.column("last_sequence", .integer).notNull().defaults(to: 0)
                t.column("version", .integer).notNull().defaults(to: 0)
            }
            // At most one unresolved incident per key: repeats land on it.
            try db.execute(sql: "CREATE UNIQUE INDEX incidents_unresolved_key ON incidents(key) WHERE status != 'resolved'")
            try db.create(table: "incident_events") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("incident_id", .integer).notNull().references("incidents")
                t.column("at", .datetime).notNull()
                t.column("kind", .text).notNull()
                t.column("actor", .text).notNull()
                t.column("detail", .text).notNull()
                t.column("level", .integer).notNull()
                t.column("run_id", .integer)
            }
            try db.create(index: "incident_events_incident", on: "incident_events", columns: ["incident_id"])
            try db.create(table: "silences") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("check_name", .text).notNull()
                t.column("until", .datetime).notNull()
                t.column("reason", .text).notNull()
                t.column("created_by", .text).notNull()
                t.column("created_at", .datetime).notNull()
            }
            try db.create(table: "outbox") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("incident_id", .integer).notNull()
                t.column("sequence", .integer).notNull()
                t.column("channel", .text).notNull()
                t.column("level", .integer).notNull()
                t.column("severity", .text).notNull()
                t.column("subject", .text).notNull()
                t.column("body", .text).notNull()
                t.column("created_at", .datetime).notNull()
                t.column("state", .text).notNull()
                t.column("attempts", .integer).notNull().defaults(to: 0)
                t.column("next_attempt_at", .datetime).notNull()
                t.column("last_error", .text)
                t.column("delivered_at", .datetime)
                t.column("fallback_of", .integer)
            }
            try db.create(index: "outbox_channel_state", on: "outbox", columns: ["channel", "state", "id"])
        }
        // The question (an `approve` step's request) a message asks people to answer.
        // (Named anew when the column came to name the question rather than its run; idempotent.)
        migrator.registerMigration("v10: approval questions in the outbox, by question") { db in
            if try !db.columns(in: "outbox").contains(where: { $0.name == "approval_id" }) {
                try db.alter(table: "outbox") { t in t.add(column: "approval_id", .integer) }
            }
        }
        // Recurring silences: by a cron in a zone for a length, or over a span of the market.
        migrator.registerMigration("v11: maintenance windows") { db in
            try db.create(table: "maintenance_windows") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("target", .text).notNull()
                t.column("cron", .text)
                t.column("zone", .text)
                t.column("length_seconds", .integer)
                t.column("during", .text)
                t.column("reason", .text).notNull()
                t.column("created_by", .text).notNull()
                t.column("created_at", .datetime).notNull()
                t.column("hold_runs", .boolean).notNull().defaults(to: false)
                t.column("at_end", .text).notNull().defaults(to: "send")
            }
        }
        return migrator
    }

    public func apply(_ change: IncidentChange) async throws -> Incident {
        try await database.record { db in
            var stored = change.incident
            try db.inTransaction {
                if stored.id == 0 {
                    if try Int.fetchOne(db, sql: "SELECT 1 FROM incidents WHERE key = ? AND status != 'resolved'", arguments: [stored.key]) != nil {
                        throw IncidentConflict()
                    }
                    stored.version = 1
                    try db.execute(sql: """
                        INSERT INTO incidents (key, check_name, subject, title, severity, level, status, opened_at, level_at, acknowledged_at,
                            acknowledged_by, resolved_at, last_sequence, version)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """, arguments: Self.arguments(stored))
                    stored.id = db.lastInsertedRowID
                } else {
                    try db.execute(sql: """
                        UPDATE incidents SET key = ?, check_name = ?, subject = ?, title = ?, severity = ?, level = ?, status = ?, opened_at = ?,
                            level_at = ?, acknowledged_at = ?, acknowledged_by = ?, resolved_at = ?, last_sequence = ?, version = ?
                        WHERE id = ? AND version = ?
                        """, arguments: Self.arguments(stored, version: stored.version + 1) + [stored.id, stored.version])
                    if db.changesCount == 0 { throw IncidentConflict() }
                    stored.version += 1
                }
                for event in change.events {
                    try db.execute(
                        sql: "INSERT INTO incident_events (incident_id, at, kind, actor, detail, level, run_id) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        arguments: [stored.id, RecordTime.text(event.at), event.kind.rawValue, event.actor, event.detail, event.level, event.runID]
                    )
                }
                for var message in change.messages {
                    message.incidentID = stored.id
                    message.subject = message.subject.replacingOccurrences(of: Incident.idPlaceholder, with: String(stored.id))
                    message.body = message.body.replacingOccurrences(of: Incident.idPlaceholder, with: String(stored.id))
                    try Self.insert(message, in: db)
                }
                return .commit
            }
            return stored
        }
    }

    public func incident(_ id: Int64) async throws -> Incident? {
        try await database.fetch { db in try Row.fetchOne(db, sql: "SELECT * FROM incidents WHERE id = ?", arguments: [id]).map(Self.incident) }
    }

    public func unresolvedIncident(key: String) async throws -> Incident? {
        try await database.fetch { db in try Row.fetchOne(db, sql: "SELECT * FROM incidents WHERE key = ? AND status != 'resolved'", arguments: [key]).map(Self.incident) }
    }

    public func unresolvedIncidents() async throws -> [Incident] {
        try await database.fetch { db in try Row.fetchAll(db, sql: "SELECT * FROM incidents WHERE status != 'resolved' ORDER BY id").map(Self.incident) }
    }

    public func incidents(limit: Int) async throws -> [Incident] {
        try await database.fetch { db in try Row.fetchAll(db, sql: "SELECT * FROM incidents ORDER BY id DESC LIMIT ?", arguments: [limit]).map(Self.incident) }
    }

    public func incidents(status: IncidentStatus, limit: Int) async throws -> [Incident] {
        try await database.fetch { db in
            try Row.fetchAll(db, sql: "SELECT * FROM incidents WHERE status = ? ORDER BY id DESC LIMIT ?", arguments: [status.rawValue, limit]).map(Self.incident)
        }
    }

    public func events(of incident: Int64) async throws -> [IncidentEvent] {
        try await database.fetch { db in
            try Row.fetchAll(db, sql: "SELECT * FROM incident_events WHERE incident_id = ? ORDER BY id", arguments: [incident]).map { row in
                IncidentEvent(
                    incidentID: row["incident_id"], at: row["at"], kind: IncidentEvent.Kind(rawValue: row["kind"]) ?? .opened, actor: row["actor"],
                    detail: row["detail"], level: row["level"], runID: row["run_id"]
                )
            }
        }
    }

    public func lastNotification(key: String) async throws -> (at: Date, severity: Severity)? {
        try await database.fetch { db in
            guard let row = try Row.fetchOne(db, sql: """
                SELECT o.created_at AS at, o.severity AS severity FROM outbox o JOIN incidents i ON i.id = o.incident_id
                WHERE i.key = ? AND o.severity != 'resolved' AND o.fallback_of IS NULL ORDER BY o.id DESC LIMIT 1
                """, arguments: [key])
            else { return nil }
            return (row["at"], Severity(rawValue: row["severity"]) ?? .info)
        }
    }

    public func channelsNotified(incident: Int64) async throws -> [String] {
        try await database.fetch { db in
            try String.fetchAll(db, sql: "SELECT channel FROM outbox WHERE incident_id = ? GROUP BY channel ORDER BY min(id)", arguments: [incident])
        }
    }

    public func addSilence(_ silence: Silence) async throws -> Silence {
        try await database.record { db in
            try db.execute(
                sql: "INSERT INTO silences (check_name, until, reason, created_by, created_at) VALUES (?, ?, ?, ?, ?)",
                arguments: [silence.check, RecordTime.text(silence.until), silence.reason, silence.by, RecordTime.text(silence.createdAt)]
            )
            var stored = silence
            stored.id = db.lastInsertedRowID
            return stored
        }
    }

    public func silences(activeAt date: Date) async throws -> [Silence] {
        try await database.fetch { db in
            try Row.fetchAll(db, sql: "SELECT * FROM silences WHERE until > ? ORDER BY until DESC", arguments: [RecordTime.text(date)]).map { row in
                Silence(id: row["id"], check: row["check_name"], until: row["until"], reason: row["reason"], by: row["created_by"], createdAt: row["created_at"])
            }
        }
    }

    public func addWindow(_ window: MaintenanceWindow) async throws -> MaintenanceWindow {
        try await database.record { db in
            let columns = window.columns
            try db.execute(
                sql: """
                    INSERT INTO maintenance_windows (target, cron, zone, length_seconds, during, reason, created_by, created_at, hold_runs, at_end)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    window.target, columns.cron, columns.zone, columns.lengthSeconds, columns.during, window.reason, window.by,
                    RecordTime.text(window.createdAt), window.holdRuns, window.atEnd.rawValue,
                ]
            )
            var stored = window
            stored.id = db.lastInsertedRowID
            return stored
        }
    }

    public func windows() async throws -> [MaintenanceWindow] {
        try await database.fetch { db in
            // A window this machine cannot read (a zone its time zone data lacks) is left out, not
            // every window with it.
            try Row.fetchAll(db, sql: "SELECT * FROM maintenance_windows ORDER BY id").compactMap { row in
                let id: Int64 = row["id"]
                guard let recurrence = try? MaintenanceWindow.recurrence(
                    id: id, cron: row["cron"], zone: row["zone"], lengthSeconds: row["length_seconds"], during: row["during"]
                ) else { return nil }
                return MaintenanceWindow(
                    id: id, target: row["target"],
                    recurrence: recurrence,
                    reason: row["reason"], by: row["created_by"], createdAt: row["created_at"], holdRuns: row["hold_runs"],
                    atEnd: MaintenanceWindow.AtEnd(rawValue: row["at_end"]) ?? .send
                )
            }
        }
    }

    public func removeWindow(_ id: Int64) async throws -> Bool {
        try await database.record { db in
            try db.execute(sql: "DELETE FROM maintenance_windows WHERE id = ?", arguments: [id])
            return db.changesCount > 0
        }
    }

    public func checkOfRun(_ runID: Int64) async throws -> String? {
        try await database.fetch { db in
            // A child run belongs to its parent's trigger.
            var id: Int64? = runID
            while let current = id, let row = try Row.fetchOne(db, sql: "SELECT trigger, trigger_source, parent_run_id FROM runs WHERE id = ?", arguments: [current]) {
                if row["trigger"] == "check" { return row["trigger_source"] }
                id = row["parent_run_id"]
            }
            return nil
        }
    }

    // MARK: The outbox

    public func enqueue(_ messages: [OutboxEntry]) async throws {
        try await database.record { db in
            try db.inTransaction {
                for message in messages { try Self.insert(message, in: db) }
                return .commit
            }
        }
    }

    public func outboxHead(channel: String) async throws -> OutboxEntry? {
        try await database.fetch { db in
            try Row.fetchOne(
                db, sql: "SELECT * FROM outbox WHERE channel = ? AND state IN ('pending', 'sending') ORDER BY id LIMIT 1", arguments: [channel]
            ).map(Self.entry)
        }
    }

    /// One engine sends from SQLite records: a message it left `sending` (its outcome could not
    /// be written) is taken again.
    public func claimOutboxHead(channel: String, at now: Date) async throws -> OutboxClaim {
        try await database.record { db in
            var claim = OutboxClaim.empty
            try db.inTransaction {
                let row = try Row.fetchOne(db, sql: "SELECT * FROM outbox WHERE channel = ? AND state IN ('pending', 'sending') ORDER BY id LIMIT 1", arguments: [channel])
                guard var entry = row.map(Self.entry) else { return .commit }
                guard entry.nextAttemptAt <= now else {
                    claim = .notDue(entry)
                    return .commit
                }
                entry.state = .sending
                entry.attempts += 1
                try db.execute(sql: "UPDATE outbox SET state = 'sending', attempts = ? WHERE id = ?", arguments: [entry.attempts, entry.id])
                claim = .claimed(entry)
                return .commit
            }
            return claim
        }
    }

    public func updateOutbox(_ entry: OutboxEntry) async throws {
        try await database.record { db in
            try db.execute(
                sql: "UPDATE outbox SET state = ?, attempts = ?, next_attempt_at = ?, last_error = ?, delivered_at = ? WHERE id = ?",
                arguments: [entry.state.rawValue, entry.attempts, RecordTime.text(entry.nextAttemptAt), entry.lastError, entry.deliveredAt.map(RecordTime.text), entry.id]
            )
        }
    }

    public func divert(_ entry: OutboxEntry, to channel: String, reason: String, at: Date) async throws {
        try await database.record { db in
            try db.inTransaction {
                try db.execute(sql: "UPDATE outbox SET state = 'diverted', attempts = ?, last_error = ? WHERE id = ?", arguments: [entry.attempts, reason, entry.id])
                try Self.insert(entry.fallbackCopy(to: channel, at: at), in: db)
                return .commit
            }
        }
    }

    public func outbox(states: Set<OutboxEntry.State>, limit: Int) async throws -> [OutboxEntry] {
        let list = states.map { "'\($0.rawValue)'" }.joined(separator: ", ")
        return try await database.fetch { db in
            try Row.fetchAll(db, sql: "SELECT * FROM outbox WHERE state IN (\(list)) ORDER BY id DESC LIMIT ?", arguments: [limit]).map(Self.entry).reversed()
        }
    }

    public func outbox(incident: Int64) async throws -> [OutboxEntry] {
        try await database.fetch { db in
            try Row.fetchAll(db, sql: "SELECT * FROM outbox WHERE incident_id = ? ORDER BY id", arguments: [incident]).map(Self.entry)
        }
    }

    public func markInterruptedSends() async throws -> Int {
        try await database.record { db in
            try db.execute(sql: "UPDATE outbox SET state = 'uncertain', last_error = 'the engine stopped while sending it' WHERE state = 'sending'")
            return db.changesCount
        }
    }

    public func resendInterruptedSends() async throws -> Int {
        try await database.record { db in
            try db.execute(sql: """
                UPDATE outbox SET state = 'pending', subject = ? || subject,
                    last_error = 'the engine sending it stopped mid-send: sent again, marked as a possible duplicate'
                WHERE state = 'sending'
                """, arguments: [OutboxEntry.possibleDuplicate])
            return db.changesCount
        }
    }

    public func outboxDepth() async throws -> [OutboxDepth] {
        try await database.fetch { db in
            try Row.fetchAll(db, sql: """
                SELECT channel, state, COUNT(*) AS count FROM outbox WHERE state NOT IN ('delivered', 'diverted')
                GROUP BY channel, state ORDER BY channel, state
                """).compactMap { row in
                OutboxEntry.State(rawValue: row["state"]).map { OutboxDepth(channel: row["channel"], state: $0, count: row["count"]) }
            }
        }
    }

    public func resend(_ id: Int64, at: Date) async throws -> OutboxEntry? {
        try await database.record { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM outbox WHERE id = ?", arguments: [id]) else { return nil }
            var entry = Self.entry(row)
            guard [.uncertain, .rejected].contains(entry.state) else { return entry }
            try db.execute(sql: "UPDATE outbox SET state = 'pending', next_attempt_at = ?, last_error = NULL WHERE id = ?", arguments: [RecordTime.text(at), id])
            entry.state = .pending
            return entry
        }
    }

    // MARK: Rows

    private static func arguments(_ incident: Incident, version: Int? = nil) -> StatementArguments {
        [
            incident.key, incident.check, incident.subject, incident.title, incident.severity.rawValue, incident.level, incident.status.rawValue,
            RecordTime.text(incident.openedAt), RecordTime.text(incident.levelAt), incident.acknowledgedAt.map(RecordTime.text), incident.acknowledgedBy,
            incident.resolvedAt.map(RecordTime.text), incident.lastSequence, version ?? incident.version,
        ]
    }

    private static func incident(_ row: Row) -> Incident {
        Incident(
            id: row["id"], key: row["key"], check: row["check_name"], subject: row["subject"], title: row["title"],
            severity: Severity(rawValue: row["severity"]) ?? .critical, level: row["level"], status: IncidentStatus(rawValue: row["status"]) ?? .open,
            openedAt: row["opened_at"], levelAt: row["level_at"], acknowledgedAt: row["acknowledged_at"], acknowledgedBy: row["acknowledged_by"],
            resolvedAt: row["resolved_at"], lastSequence: row["last_sequence"], version: row["version"]
        )
    }

    private static func insert(_ message: OutboxEntry, in db: Database) throws {
        try db.execute(sql: """
            INSERT INTO outbox (incident_id, sequence, channel, level, severity, subject, body, created_at, state, attempts, next_attempt_at,
                last_error, delivered_at, fallback_of, approval_id)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [
            message.incidentID, message.sequence, message.channel, message.level, message.severity, message.subject, message.body,
            RecordTime.text(message.createdAt), message.state.rawValue, message.attempts, RecordTime.text(message.nextAttemptAt), message.lastError,
            message.deliveredAt.map(RecordTime.text), message.fallbackOf, message.approval,
        ])
    }

    private static func entry(_ row: Row) -> OutboxEntry {
        OutboxEntry(
            id: row["id"], incidentID: row["incident_id"], sequence: row["sequence"], channel: row["channel"], level: row["level"],
            severity: row["severity"], subject: row["subject"], body: row["body"], createdAt: row["created_at"],
            state: OutboxEntry.State(rawValue: row["state"]) ?? .pending, attempts: row["attempts"], nextAttemptAt: row["next_attempt_at"],
            lastError: row["last_error"], deliveredAt: row["delivered_at"], fallbackOf: row["fallback_of"], approval: row["approval_id"]
        )
    }
}
