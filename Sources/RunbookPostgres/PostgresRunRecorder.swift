import Foundation
import PostgresNIO
import RunbookCore
import RunbookExecutor

/// Runs and step attempts in PostgreSQL, each run under the engine that started it. Every engine
/// reads every run (`history`, `show`, the dashboard); an engine marks as `interrupted` only its
/// own runs whose process is gone.
public final class PostgresRunRecorder: RunRecorder, RunHistory, Sendable {
    let database: PostgresDatabase
    let engine: String
    private let owner = ProcessIdentity.current

    init(_ database: PostgresDatabase, engine: String) {
        self.database = database
        self.engine = engine
    }

    // MARK: RunRecorder

    public func startRun(_ start: RunStart) async throws -> Int64 {
        let params = String(decoding: try JSONSerialization.data(withJSONObject: start.params, options: [.sortedKeys]), as: UTF8.self)
        let (engine, owner) = (engine, owner)
        return try await database.record { connection in
            try await connection.row("""
                INSERT INTO runs (engine, runbook, content_hash, trigger, trigger_source, due_at, params, parent_run_id, started_at, status, owner)
                VALUES (\(engine), \(start.runbook), \(start.contentHash), \(start.trigger.rawValue), \(start.origin?.source), \(start.origin?.dueAt.map(Stamp.init)),
                    \(params), \(start.parentRunID), \(Stamp(start.startedAt)), 'running', \(owner))
                RETURNING id
                """) { try $0("id", as: Int64.self) }!
        }
    }

    public func startAttempt(_ attempt: AttemptStart, completing previous: FinishedAttempt?) async throws -> Int64 {
        let done = previous ?? Self.nothing
        let ended = done.outcome
        let status = attempt.skipped ? StepStatus.skipped.rawValue : StepStatus.running.rawValue
        return try await database.record { connection in
            // The previous attempt's end and this one's start in one statement: one round trip.
            try await connection.row("""
                WITH finished AS (
                    UPDATE step_attempts SET finished_at = \(Stamp(ended.finishedAt)), duration_ms = \(Double(ended.duration.milliseconds)),
                        status = \(ended.status.rawValue), exit_code = \(ended.exitCode.map { Int($0) }), output = \(ended.output), error = \(ended.error),
                        outputs = \(ended.outputs)
                    WHERE id = \(done.id)
                )
                INSERT INTO step_attempts (run_id, step_index, step_id, primitive, attempt, started_at, finished_at, duration_ms, status)
                VALUES (\(attempt.runID), \(attempt.stepIndex), \(attempt.stepID), \(attempt.primitive), \(attempt.attempt), \(Stamp(attempt.startedAt)),
                    \(attempt.skipped ? Stamp(attempt.startedAt) : nil), \(attempt.skipped ? 0.0 : nil), \(status))
                RETURNING id
                """) { try $0("id", as: Int64.self) }!
        }
    }

    /// No attempt to end: the statements that end one and do something else end none (no
    /// attempt has id 0), so that each has one shape whether or not an attempt ends with it.
    private static let nothing = FinishedAttempt(id: 0, outcome: AttemptOutcome(status: .succeeded, finishedAt: Date(timeIntervalSince1970: 0), duration: .zero))

    public func finishAttempt(_ finished: FinishedAttempt) async throws {
        try await end(run: nil, nil, completing: finished)
    }

    public func finishRun(_ id: Int64, _ outcome: RunOutcome, completing previous: FinishedAttempt?) async throws {
        try await end(run: id, outcome, completing: previous ?? Self.nothing)
    }

    /// The attempt's end, then the run's when there is one (run 0 is none), in one statement.
    private func end(run id: Int64?, _ outcome: RunOutcome?, completing done: FinishedAttempt) async throws {
        let ended = done.outcome
        let run = outcome ?? RunOutcome(status: .succeeded, finishedAt: Date(timeIntervalSince1970: 0), escalationLevel: 0, error: nil)
        try await database.record { connection in
            try await connection.sql("""
                WITH finished AS (
                    UPDATE step_attempts SET finished_at = \(Stamp(ended.finishedAt)), duration_ms = \(Double(ended.duration.milliseconds)),
                        status = \(ended.status.rawValue), exit_code = \(ended.exitCode.map { Int($0) }), output = \(ended.output), error = \(ended.error),
                        outputs = \(ended.outputs)
                    WHERE id = \(done.id)
                )
                UPDATE runs SET finished_at = \(Stamp(run.finishedAt)), status = \(run.status.rawValue), escalation_level = \(run.escalationLevel), error = \(run.error)
                WHERE id = \(id ?? 0)
                """)
        }
    }

    // MARK: Crash recovery

    /// Marks this engine's runs whose process is gone as `interrupted`; returns their ids.
    @discardableResult
    public func markInterruptedRuns() async throws -> [Int64] {
        let engine = engine
        return try await database.recordInTransaction { connection in
            let running = try await connection.rows("SELECT id, owner FROM runs WHERE status = 'running' AND engine = \(engine) FOR UPDATE") {
                (id: try $0("id", as: Int64.self), owner: try $0("owner", as: String.self))
            }
            var marked: [Int64] = []
            // Only a process of this machine can be told dead from here; the leader marks the rest
            // once their engine stops beating.
            for run in running where ProcessIdentity.isOfThisBoot(run.owner) && !ProcessIdentity.isAlive(run.owner) {
                let inFlight = try await connection.row(
                    "SELECT step_id FROM step_attempts WHERE run_id = \(run.id) AND status = 'running' ORDER BY id DESC LIMIT 1"
                ) { try $0("step_id", as: String.self) }
                let reason = inFlight.map { "interrupted: the process running it stopped (crash or kill) while step '\($0)' was in flight" }
                    ?? "interrupted: the process running it stopped (crash or kill) between steps"
                let now = Stamp(Date())
                try await connection.sql("UPDATE step_attempts SET status = 'interrupted', finished_at = \(now), error = 'interrupted' WHERE run_id = \(run.id) AND status = 'running'")
                try await connection.sql("UPDATE runs SET status = 'interrupted', finished_at = \(now), error = \(reason) WHERE id = \(run.id)")
                marked.append(run.id)
            }
            return marked
        }
    }

    // MARK: Review

    public func runs(_ filter: RunFilter) async throws -> [RunRecord] {
        var conditions: [String] = []
        var binds = PostgresBindings()
        func condition(_ sql: String, _ value: String) {
            binds.append(value)
            conditions.append("\(sql) $\(binds.count)")
        }
        if let runbook = filter.runbook { condition("runbook =", runbook) }
        if let status = filter.status { condition("status =", status) }
        if let trigger = filter.trigger { condition("trigger =", trigger) }
        if let source = filter.source { condition("trigger_source =", source) }
        if let since = filter.since {
            binds.append(Stamp(since))
            conditions.append("started_at >= $\(binds.count)")
        }
        binds.append(filter.limit)
        let whereClause = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
        let query = PostgresQuery(unsafeSQL: "SELECT * FROM runs \(whereClause) ORDER BY id DESC LIMIT $\(binds.count)", binds: binds)
        return try await database.record { try await $0.rows(query, Self.run) }
    }

    public func run(id: Int64) async throws -> RunRecord? {
        try await database.record { try await $0.row("SELECT * FROM runs WHERE id = \(id)", Self.run) }
    }

    public func attempts(runID: Int64) async throws -> [AttemptRecord] {
        try await database.record {
            try await $0.rows("SELECT * FROM step_attempts WHERE run_id = \(runID) ORDER BY step_index, attempt, id", Self.attempt)
        }
    }

    public func children(of runID: Int64) async throws -> [RunRecord] {
        try await database.record { try await $0.rows("SELECT * FROM runs WHERE parent_run_id = \(runID) ORDER BY id", Self.run) }
    }

    private static func run(_ row: Columns) throws -> RunRecord {
        RunRecord(
            id: try row("id"), runbook: try row("runbook"), contentHash: try row("content_hash"), trigger: try row("trigger"),
            triggerSource: try row("trigger_source"), dueAt: try row.date(optional: "due_at"), params: try row("params"),
            parentRunId: try row("parent_run_id"), startedAt: try row.date("started_at"), finishedAt: try row.date(optional: "finished_at"),
            status: try row("status"), escalationLevel: try row("escalation_level"), error: try row("error"), engine: try row("engine")
        )
    }

    private static func attempt(_ row: Columns) throws -> AttemptRecord {
        AttemptRecord(
            id: try row("id"), runId: try row("run_id"), stepIndex: try row("step_index"), stepId: try row("step_id"), primitive: try row("primitive"),
            attempt: try row("attempt"), startedAt: try row.date("started_at"), finishedAt: try row.date(optional: "finished_at"),
            durationMs: try row("duration_ms"), status: try row("status"), exitCode: try row("exit_code"), output: try row("output"), error: try row("error"),
            outputs: try row("outputs")
        )
    }
}
