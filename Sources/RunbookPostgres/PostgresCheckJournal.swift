import Foundation
import PostgresNIO
import RunbookChecks
import RunbookCore
import RunbookModel
import RunbookScheduler

/// State changes of checks, and the alerts they open and clear, in PostgreSQL, under the engine
/// whose guardian saw them.
public final class PostgresCheckJournal: CheckJournal, AlertBook, Sendable {
    private let database: PostgresDatabase
    private let engine: String

    init(_ database: PostgresDatabase, engine: String) {
        self.database = database
        self.engine = engine
    }

    public func recordChange(check: String, from: CheckStatus, to: CheckStatus, result: CheckResult, flapping: Bool) async throws {
        let engine = engine
        let at = Stamp(result.at)
        let value = result.value.flatMap { $0.isFinite ? $0 : nil }
        let message = "\(result.text) (\(result.threshold))"
        try await database.recordInTransaction { connection in
            try await connection.sql("""
                INSERT INTO check_changes (engine, check_name, from_status, to_status, value, text, subject, flapping, at)
                VALUES (\(engine), \(check), \(from.rawValue), \(to.rawValue), \(value), \(result.text), \(result.subject), \(flapping), \(at))
                """)
            if to.isBad {
                let updated = try await connection.count("""
                    UPDATE alerts SET status = \(to.rawValue), message = \(message), subject = \(result.subject), updated_at = \(at)
                    WHERE engine = \(engine) AND check_name = \(check) AND cleared_at IS NULL RETURNING 1
                    """)
                if updated == 0 {
                    try await connection.sql("""
                        INSERT INTO alerts (engine, check_name, subject, status, message, opened_at, updated_at)
                        VALUES (\(engine), \(check), \(result.subject), \(to.rawValue), \(message), \(at), \(at))
                        """)
                }
            } else if to == .healthy || to == .idle {
                try await connection.sql("""
                    UPDATE alerts SET cleared_at = \(at), cleared_by = 'recovered' WHERE engine = \(engine) AND check_name = \(check) AND cleared_at IS NULL
                    """)
            }
        }
    }

    public func openAlerts() async throws -> [String] {
        let engine = engine
        return try await database.record { connection in
            try await connection.rows("SELECT DISTINCT check_name FROM alerts WHERE engine = \(engine) AND cleared_at IS NULL ORDER BY check_name") {
                try $0("check_name", as: String.self)
            }
        }
    }

    public func clearAlerts(check: String, by actor: String) async throws -> Int {
        let engine = engine
        return try await database.record { connection in
            try await connection.count("""
                UPDATE alerts SET cleared_at = \(Stamp(Date())), cleared_by = \(actor) WHERE engine = \(engine) AND check_name = \(check) AND cleared_at IS NULL RETURNING 1
                """)
        }
    }
}

/// The scheduler's marks in PostgreSQL: one row per schedule, shared by the engines (the one
/// that leads runs the schedule).
public final class PostgresSchedulerState: SchedulerStateStore, Sendable {
    private let database: PostgresDatabase

    init(_ database: PostgresDatabase) {
        self.database = database
    }

    public func handledThrough() async throws -> [String: Date] {
        let marks = try await database.record { connection in
            try await connection.rows("SELECT schedule, handled_through FROM schedule_state") { Mark(schedule: try $0("schedule"), through: try $0.date("handled_through")) }
        }
        return Dictionary(marks.map { ($0.schedule, $0.through) }) { $1 }
    }

    private struct Mark: Sendable {
        var schedule: String
        var through: Date
    }

    public func runRecorded(_ schedule: String, dueAt: Date) async throws -> Bool {
        try await database.record { connection in
            try await connection.count("SELECT 1 FROM runs WHERE trigger = 'schedule' AND trigger_source = \(schedule) AND due_at = \(Stamp(dueAt)) LIMIT 1") > 0
        }
    }

    public func setHandled(_ schedule: String, through instant: Date) async throws -> Bool {
        try await database.record { connection in
            try await connection.count("""
                INSERT INTO schedule_state (schedule, handled_through, updated_at) VALUES (\(schedule), \(Stamp(instant)), \(Stamp(Date())))
                ON CONFLICT (schedule) DO UPDATE SET handled_through = excluded.handled_through, updated_at = excluded.updated_at
                WHERE schedule_state.handled_through < excluded.handled_through
                RETURNING 1
                """) > 0
        }
    }
}
