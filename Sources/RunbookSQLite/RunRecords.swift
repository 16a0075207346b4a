import Foundation
import GRDB
import RunbookCore
import RunbookExecutor

/// Runs and step attempts in a SQLite file (WAL). Opening it marks runs that a crashed process
/// left `running` as `interrupted`, naming the step that was in flight.
public final class RunRecords: RunRecorder, Sendable {
    public let path: String
    private let database: DatabaseQueue
    private let owner = ProcessIdentity.current

    public init(path: String) throws {
        self.path = path
        let folder = (path as NSString).deletingLastPathComponent
        if !folder.isEmpty { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            // WAL lets other processes read while a run writes. With NORMAL, a commit survives a
            // crash of this process; only a power cut can lose the newest commits.
            try db.execute(sql: "PRAGMA journal_mode = WAL")
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }
        do {
            try OwnerOnlyFile.prepare(path)
            database = try DatabaseQueue(path: path, configuration: configuration)
            try Self.migrate(database)
        } catch {
            throw RecordsError("cannot open the run records at \(path): \(error)")
        }
        try markInterruptedRuns()
    }

    /// Two processes can open a new file at once (a manual run while the engine starts): the one
    /// that loses the race finds the other's tables and tries again once they are committed.
    private static func migrate(_ database: DatabaseQueue) throws {
        var attempt = 1
        while true {
            do {
                try migrator.migrate(database)
                return
            } catch let error as DatabaseError where attempt < 5 {
                guard error.resultCode == .SQLITE_ERROR || error.resultCode == .SQLITE_BUSY else { throw error }
                attempt += 1
                usleep(200_000)
            }
        }
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: runs and step attempts") { db in
            try db.create(table: "runs") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("runbook", .text).notNull().indexed()
                t.column("content_hash", .text).notNull()
                t.column("trigger", .text).notNull()
                t.column("params", .text).notNull()
                t.column("parent_run_id", .integer).references("runs")
                t.column("started_at", .datetime).notNull().indexed()
                t.column("finished_at", .datetime)
                t.column("status", .text).notNull().indexed()
                t.column("escalation_level", .integer).notNull().defaults(to: 0)
                t.column("error", .text)
                t.column("owner", .text).notNull()
            }
            try db.create(table: "step_attempts") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("run_id", .integer).notNull().indexed().references("runs", onDelete: .cascade)
                t.column("step_index", .integer).notNull()
                t.column("step_id", .text).notNull()
                t.column("primitive", .text).notNull()
                t.column("attempt", .integer).notNull()
                t.column("started_at", .datetime).notNull()
                t.column("finished_at", .datetime)
                t.column("duration_ms", .double)
                t.column("status", .text).notNull()
                t.column("exit_code", .integer)
                t.column("output", .text).notNull().defaults(to: "")
                t.column("error", .text)
            }
        }
        migrator.registerMigration("v2: EAs, signals, fires, trades, probes") { db in
            try db.create(table: "ea_instances") { t in
                t.primaryKey("target_uuid", .text)
                t.column("account", .text)
                t.column("first_seen", .datetime).notNull()
                t.column("last_seen", .datetime).notNull()
                t.column("heartbeats", .integer).notNull().defaults(to: 0)
            }
            try db.create(table: "signals") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("signal_id", .text).notNull()
                t.column("symbol", .text).notNull()
                t.column("direction", .text).notNull()
                t.column("entry", .double)
                t.column("sl", .double)
                t.column("tp", .double)
                t.column("confidence", .double)
                t.column("time_msc", .integer)
                t.column("received_at", .datetime).notNull().indexed()
                t.column("raw", .text).notNull()
            }
            try db.create(table: "fires") { t in
                t.primaryKey("fire_id", .text)
                t.column("target_uuid", .text).notNull()
                t.column("symbol", .text).notNull()
                t.column("direction", .text).notNull()
                t.column("lot", .double).notNull()
                t.column("sl", .double)
                t.column("tp", .double)
                t.column("status", .text).notNull().indexed()
                t.column("queued_at", .datetime).notNull().indexed()
                t.column("sent_at", .datetime)
                t.column("finished_at", .datetime)
                t.column("ticket", .integer)
                t.column("price", .double)
                t.column("error", .text)
            }
            try db.create(table: "trades") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("fire_id", .text).notNull().indexed()
                t.column("symbol", .text)
                t.column("ticket", .integer)
                t.column("exit_price", .double)
                t.column("pnl", .double).notNull()
                t.column("time_msc", .integer)
                t.column("closed_at", .datetime).notNull().indexed()
            }
            try db.create(table: "probes") { t in
                t.column("probe_id", .text).notNull().indexed()
                t.column("received_at", .datetime).notNull()
            }
        }
        migrator.registerMigration("v3: what started a run") { db in
            // The schedule or check that started a run, and the fire time a scheduled run belongs to.
            try db.alter(table: "runs") { t in
                t.add(column: "trigger_source", .text)
                t.add(column: "due_at", .datetime)
            }
            try db.create(index: "runs_by_source", on: "runs", columns: ["trigger_source", "started_at"])
        }
        migrator.registerMigration("v4: check changes and alerts") { db in
            try db.create(table: "check_changes") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("check_name", .text).notNull().indexed()
                t.column("from_status", .text).notNull()
                t.column("to_status", .text).notNull()
                t.column("value", .double)
                t.column("text", .text).notNull()
                t.column("subject", .text)
                t.column("flapping", .boolean).notNull().defaults(to: false)
                t.column("at", .datetime).notNull().indexed()
            }
            try db.create(table: "alerts") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("check_name", .text).notNull()
                t.column("subject", .text)
                t.column("status", .text).notNull()
                t.column("message", .text).notNull()
                t.column("opened_at", .datetime).notNull()
                t.column("updated_at", .datetime).notNull()
                t.column("cleared_at", .datetime)
                t.column("cleared_by", .text)
            }
            try db.create(index: "alerts_open", on: "alerts", columns: ["check_name", "cleared_at"])
        }
        migrator.registerMigration("v5: scheduler state") { db in
            // Per schedule, the last fire time the scheduler has dealt with (see SchedulerStateStore).
            try db.create(table: "schedule_state") { t in
                t.primaryKey("schedule", .text)
                t.column("handled_through", .datetime).notNull()
                t.column("updated_at", .datetime).notNull()
            }
        }
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
        return migrator
    }

    // MARK: RunRecorder

    public func startRun(_ start: RunStart) throws -> Int64 {
        let params = String(decoding: try JSONSerialization.data(withJSONObject: start.params, options: [.sortedKeys]), as: UTF8.self)
        return try database.writeWithoutTransaction { db in
            try db.cachedStatement(sql: """
                INSERT INTO runs (runbook, content_hash, trigger, trigger_source, due_at, params, parent_run_id, started_at, status, owner)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'running', ?)
                """).execute(arguments: [
                start.runbook, start.contentHash, start.trigger.rawValue, start.origin?.source, start.origin?.dueAt.map(RecordTime.text), params,
                start.parentRunID, RecordTime.text(start.startedAt), owner,
            ])
            return db.lastInsertedRowID
        }
    }

    public func startAttempt(_ attempt: AttemptStart, completing previous: FinishedAttempt?) throws -> Int64 {
        try database.writeWithoutTransaction { db in
            try db.inTransaction {
                if let previous { try Self.finish(previous, in: db) }
                try db.cachedStatement(sql: """
                    INSERT INTO step_attempts (run_id, step_index, step_id, primitive, attempt, started_at, finished_at, duration_ms, status)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """).execute(arguments: [
                    attempt.runID, attempt.stepIndex, attempt.stepID, attempt.primitive, attempt.attempt, RecordTime.text(attempt.startedAt),
                    attempt.skipped ? RecordTime.text(attempt.startedAt) : nil, attempt.skipped ? 0.0 : nil,
                    attempt.skipped ? StepStatus.skipped.rawValue : StepStatus.running.rawValue,
                ])
                return .commit
            }
            return db.lastInsertedRowID
        }
    }

    public func finishAttempt(_ finished: FinishedAttempt) throws {
        try database.writeWithoutTransaction { db in try Self.finish(finished, in: db) }
    }

    public func finishRun(_ id: Int64, _ outcome: RunOutcome, completing previous: FinishedAttempt?) throws {
        try database.writeWithoutTransaction { db in
            try db.inTransaction {
                if let previous { try Self.finish(previous, in: db) }
                try db.cachedStatement(sql: "UPDATE runs SET finished_at = ?, status = ?, escalation_level = ?, error = ? WHERE id = ?")
                    .execute(arguments: [RecordTime.text(outcome.finishedAt), outcome.status.rawValue, outcome.escalationLevel, outcome.error, id])
                return .commit
            }
        }
    }

    private static func finish(_ finished: FinishedAttempt, in db: Database) throws {
        let outcome = finished.outcome
        try db.cachedStatement(sql: "UPDATE step_attempts SET finished_at = ?, duration_ms = ?, status = ?, exit_code = ?, output = ?, error = ? WHERE id = ?")
            .execute(arguments: [
                RecordTime.text(outcome.finishedAt), Double(outcome.duration.milliseconds), outcome.status.rawValue,
                outcome.exitCode.map { Int($0) }, outcome.output, outcome.error, finished.id,
            ])
    }

    /// One write on the records' connection, for the adapters of other parts of the engine.
    func write<T>(_ body: (Database) throws -> T) throws -> T {
        try database.writeWithoutTransaction { db in try body(db) }
    }

    func read<T>(_ body: (Database) throws -> T) throws -> T {
        try database.read { db in try body(db) }
    }

    // MARK: Crash recovery

    /// Marks runs whose process is gone as `interrupted`; returns their ids.
    @discardableResult
    public func markInterruptedRuns() throws -> [Int64] {
        try database.write { db in
            let running = try Row.fetchAll(db, sql: "SELECT id, owner FROM runs WHERE status = 'running'")
            var marked: [Int64] = []
            for row in running {
                let id: Int64 = row["id"]
                let owner: String = row["owner"]
                guard !ProcessIdentity.isAlive(owner) else { continue }
                let inFlight = try String.fetchOne(db, sql: "SELECT step_id FROM step_attempts WHERE run_id = ? AND status = 'running' ORDER BY id DESC LIMIT 1", arguments: [id])
                let reason = inFlight.map { "interrupted: the process running it stopped (crash or kill) while step '\($0)' was in flight" }
                    ?? "interrupted: the process running it stopped (crash or kill) between steps"
                try db.execute(sql: "UPDATE step_attempts SET status = 'interrupted', finished_at = ?, error = 'interrupted' WHERE run_id = ? AND status = 'running'", arguments: [RecordTime.text(Date()), id])
                try db.execute(sql: "UPDATE runs SET status = 'interrupted', finished_at = ?, error = ? WHERE id = ?", arguments: [RecordTime.text(Date()), reason, id])
                marked.append(id)
            }
            return marked
        }
    }

    // MARK: Review

    public func runs(_ filter: RunFilter = RunFilter()) throws -> [RunRecord] {
        var conditions: [String] = []
        var arguments: StatementArguments = []
        if let runbook = filter.runbook { conditions.append("runbook = ?"); _ = arguments.append(contentsOf: [runbook]) }
        if let status = filter.status { conditions.append("status = ?"); _ = arguments.append(contentsOf: [status]) }
        if let trigger = filter.trigger { conditions.append("trigger = ?"); _ = arguments.append(contentsOf: [trigger]) }
        if let source = filter.source { conditions.append("trigger_source = ?"); _ = arguments.append(contentsOf: [source]) }
        if let since = filter.since { conditions.append("started_at >= ?"); _ = arguments.append(contentsOf: [RecordTime.text(since)]) }
        let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        _ = arguments.append(contentsOf: [filter.limit])
        return try database.read { db in
            try RunRecord.fetchAll(db, sql: "SELECT * FROM runs \(whereClause) ORDER BY id DESC LIMIT ?", arguments: arguments)
        }
    }

    public func run(id: Int64) throws -> RunRecord? {
        try database.read { db in try RunRecord.fetchOne(db, sql: "SELECT * FROM runs WHERE id = ?", arguments: [id]) }
    }

    public func attempts(runID: Int64) throws -> [AttemptRecord] {
        try database.read { db in
            try AttemptRecord.fetchAll(db, sql: "SELECT * FROM step_attempts WHERE run_id = ? ORDER BY step_index, attempt, id", arguments: [runID])
        }
    }

    public func children(of runID: Int64) throws -> [RunRecord] {
        try database.read { db in try RunRecord.fetchAll(db, sql: "SELECT * FROM runs WHERE parent_run_id = ? ORDER BY id", arguments: [runID]) }
    }
}

public struct RunFilter: Sendable {
    public var runbook: String?
    public var status: String?
    public var since: Date?
    /// What started the runs (`schedule`, `check`, ...), and which schedule or check.
    public var trigger: String?
    public var source: String?
    public var limit: Int

    public init(runbook: String? = nil, status: String? = nil, since: Date? = nil, trigger: String? = nil, source: String? = nil, limit: Int = 50) {
        self.runbook = runbook
        self.status = status
        self.since = since
        self.trigger = trigger
        self.source = source
        self.limit = limit
    }
}

public struct RecordsError: Error, Sendable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}
