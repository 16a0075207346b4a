import Foundation
import GRDB
import RunbookScheduler

/// The scheduler's marks, in the records database beside the runs they started: one row per schedule.
public final class SQLiteSchedulerState: SchedulerStateStore, RecordsMigrations, Sendable {
    private let database: any DatabaseWriter

    init(_ database: any DatabaseWriter) {
        self.database = database
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v5: scheduler state") { db in
            // Per schedule, the last fire time the scheduler has dealt with (see SchedulerStateStore).
            try db.create(table: "schedule_state") { t in
                t.primaryKey("schedule", .text)
                t.column("handled_through", .datetime).notNull()
                t.column("updated_at", .datetime).notNull()
            }
        }
        return migrator
    }

    public func handledThrough() async throws -> [String: Date] {
        try await database.fetch { db in
            let rows = try Row.fetchAll(db, sql: "SELECT schedule, handled_through FROM schedule_state")
            return Dictionary(uniqueKeysWithValues: rows.map { ($0["schedule"] as String, $0["handled_through"] as Date) })
        }
    }

    public func runRecorded(_ schedule: String, dueAt: Date) async throws -> Bool {
        try await database.fetch { db in
            try Bool.fetchOne(
                db, sql: "SELECT 1 FROM runs WHERE trigger = 'schedule' AND trigger_source = ? AND due_at = ? LIMIT 1", arguments: [schedule, RecordTime.text(dueAt)]
            ) ?? false
        }
    }

    public func setHandled(_ schedule: String, through instant: Date) async throws -> Bool {
        try await database.record { db in
            try db.cachedStatement(sql: """
                INSERT INTO schedule_state (schedule, handled_through, updated_at) VALUES (?, ?, ?)
                ON CONFLICT(schedule) DO UPDATE SET handled_through = excluded.handled_through, updated_at = excluded.updated_at
                WHERE schedule_state.handled_through < excluded.handled_through
                """).execute(arguments: [schedule, RecordTime.text(instant), RecordTime.text(Date())])
            return db.changesCount > 0
        }
    }
}
