import Foundation
import GRDB
import RunbookScheduler

/// The scheduler's marks, beside the runs they started: one row per schedule.
extension RunRecords: SchedulerStateStore {
    public func handledThrough() throws -> [String: Date] {
        try read { db in
            let rows = try Row.fetchAll(db, sql: "SELECT schedule, handled_through FROM schedule_state")
            return Dictionary(uniqueKeysWithValues: rows.map { ($0["schedule"] as String, $0["handled_through"] as Date) })
        }
    }

    public func setHandled(_ schedule: String, through instant: Date) throws {
        try write { db in
            try db.cachedStatement(sql: """
                INSERT INTO schedule_state (schedule, handled_through, updated_at) VALUES (?, ?, ?)
                ON CONFLICT(schedule) DO UPDATE SET handled_through = excluded.handled_through, updated_at = excluded.updated_at
                """).execute(arguments: [schedule, RecordTime.text(instant), RecordTime.text(Date())])
        }
    }
}
