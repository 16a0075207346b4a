import Foundation
import GRDB
import RunbookCore
import RunbookExecutor

/// Runs and step attempts, in the records database. Opening the database marks runs that a
/// crashed process left `running` as `interrupted`, naming the step that was in flight.
public final class SQLiteRunRecorder: RunRecorder, RunHistory, RecordsMigrations, Sendable {
    let database: any DatabaseWriter
    private let owner = ProcessIdentity.current

    init(_ database: any DatabaseWriter) {
        self.database = database
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
        migrator.registerMigration("v3: what started a run") { db in
            // The schedule or check that started a run, and the fire time a scheduled run belongs to.
            try db.alter(table: "runs") { t in
                t.add(column: "trigger_source", .text)
                t.add(column: "due_at", .datetime)
            }
            try db.create(index: "runs_by_source", on: "runs", columns: ["trigger_source", "started_at"])
        }
        // A step's outputs, for `runbook resume` to give the steps after it.
        migrator.registerMigration("v9: step outputs") { db in
            try db.alter(table: "step_attempts") { t in t.add(column: "outputs", .text) }
        }
        // Runs waiting at an `approve` step, and people's answers.
        migrator.registerMigration("v10: approvals") { db in
            try db.create(table: "approvals") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("run_id", .integer).notNull().indexed().references("runs", onDelete: .cascade)
                t.column("step_index", .integer).notNull()
                t.column("step_id", .text).notNull()
                t.column("runbook", .text).notNull()
                t.column("message", .text).notNull()
                t.column("approvers", .text).notNull()
                t.column("min_approvals", .integer).notNull()
                t.column("requested_at", .datetime).notNull()
                t.column("deadline", .datetime)
                t.column("status", .text).notNull().indexed()
                t.column("decided_at", .datetime)
            }
            try db.create(table: "approval_votes") { t in
                t.column("approval_id", .integer).notNull().references("approvals", onDelete: .cascade)
                t.column("person", .text).notNull()
                t.column("by", .text).notNull()
                t.column("decision", .text).notNull()
                t.column("reason", .text).notNull()
                t.column("at", .datetime).notNull()
                t.primaryKey(["approval_id", "person"])
            }
        }
        return migrator
    }

    // MARK: RunRecorder

    public func startRun(_ start: RunStart) async throws -> Int64 {
        let params = String(decoding: try JSONSerialization.data(withJSONObject: start.params, options: [.sortedKeys]), as: UTF8.self)
        return try write { db in
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

    public func startAttempt(_ attempt: AttemptStart, completing previous: FinishedAttempt?) async throws -> Int64 {
        try write { db in
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

    public func finishAttempt(_ finished: FinishedAttempt) async throws {
        try write { db in try Self.finish(finished, in: db) }
    }

    public func finishRun(_ id: Int64, _ outcome: RunOutcome, completing previous: FinishedAttempt?) async throws {
        try write { db in
            try db.inTransaction {
                if let previous { try Self.finish(previous, in: db) }
                try db.cachedStatement(sql: "UPDATE runs SET finished_at = ?, status = ?, escalation_level = ?, error = ? WHERE id = ?")
                    .execute(arguments: [RecordTime.text(outcome.finishedAt), outcome.status.rawValue, outcome.escalationLevel, outcome.error, id])
                return .commit
            }
        }
    }

    /// A write on the caller's thread. A step's record is written in line with the step: a hop to
    /// the writer's queue and back costs about 100 µs a step, twice the whole per-step overhead
    /// (runbook-bench); the records' writer is free but for another process's write.
    private func write<T>(_ body: (Database) throws -> T) throws -> T {
        try database.writeWithoutTransaction(body)
    }

    private static func finish(_ finished: FinishedAttempt, in db: Database) throws {
        let outcome = finished.outcome
        try db.cachedStatement(sql: "UPDATE step_attempts SET finished_at = ?, duration_ms = ?, status = ?, exit_code = ?, output = ?, error = ?, outputs = ? WHERE id = ?")
            .execute(arguments: [
                RecordTime.text(outcome.finishedAt), Double(outcome.duration.milliseconds), outcome.status.rawValue,
                outcome.exitCode.map { Int($0) }, outcome.output, outcome.error, outcome.outputs, finished.id,
            ])
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

    public func runs(_ filter: RunFilter) async throws -> [RunRecord] {
        var conditions: [String] = []
        var arguments: StatementArguments = []
        if let runbook = filter.runbook { conditions.append("runbook = ?"); _ = arguments.append(contentsOf: [runbook]) }
        if let status = filter.status { conditions.append("status = ?"); _ = arguments.append(contentsOf: [status]) }
        if let trigger = filter.trigger { conditions.append("trigger = ?"); _ = arguments.append(contentsOf: [trigger]) }
        if let source = filter.source { conditions.append("trigger_source = ?"); _ = arguments.append(contentsOf: [source]) }
        if let since = filter.since { conditions.append("started_at >= ?"); _ = arguments.append(contentsOf: [RecordTime.text(since)]) }
        let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        _ = arguments.append(contentsOf: [filter.limit])
        let query = arguments
        return try await database.read { db in
            try RunRecord.fetchAll(db, sql: "SELECT * FROM runs \(whereClause) ORDER BY id DESC LIMIT ?", arguments: query)
        }
    }

    public func run(id: Int64) async throws -> RunRecord? {
        try await database.read { db in try RunRecord.fetchOne(db, sql: "SELECT * FROM runs WHERE id = ?", arguments: [id]) }
    }

    public func attempts(runID: Int64) async throws -> [AttemptRecord] {
        try await database.read { db in
            try AttemptRecord.fetchAll(db, sql: "SELECT * FROM step_attempts WHERE run_id = ? ORDER BY step_index, attempt, id", arguments: [runID])
        }
    }

    public func children(of runID: Int64) async throws -> [RunRecord] {
        try await database.read { db in try RunRecord.fetchAll(db, sql: "SELECT * FROM runs WHERE parent_run_id = ? ORDER BY id", arguments: [runID]) }
    }
}

// Read as GRDB records; the columns are the properties' names in snake case.
extension RunRecord: FetchableRecord {
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
}

extension AttemptRecord: FetchableRecord {
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
}
