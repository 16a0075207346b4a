import Foundation
import GRDB
import RunbookChecks
import RunbookCore
import RunbookModel

/// State changes of checks, and the alerts they open and clear, in the records database.
public final class SQLiteCheckJournal: CheckJournal, AlertBook, RecordsMigrations, Sendable {
    private let database: any DatabaseWriter

    init(_ database: any DatabaseWriter) {
        self.database = database
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
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
        return migrator
    }

    public func recordChange(check: String, from: CheckStatus, to: CheckStatus, result: CheckResult, flapping: Bool) async throws {
        let at = RecordTime.text(result.at)
        try await database.record { db in
            try db.execute(
                sql: "INSERT INTO check_changes (check_name, from_status, to_status, value, text, subject, flapping, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                arguments: [check, from.rawValue, to.rawValue, result.value.flatMap { $0.isFinite ? $0 : nil }, result.text, result.subject, flapping, at]
            )
            let message = "\(result.text) (\(result.threshold))"
            if to.isBad {
                try db.execute(
                    sql: "UPDATE alerts SET status = ?, message = ?, subject = ?, updated_at = ? WHERE check_name = ? AND cleared_at IS NULL",
                    arguments: [to.rawValue, message, result.subject, at, check]
                )
                if db.changesCount == 0 {
                    try db.execute(
                        sql: "INSERT INTO alerts (check_name, subject, status, message, opened_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                        arguments: [check, result.subject, to.rawValue, message, at, at]
                    )
                }
            } else if to == .healthy || to == .idle {
                try db.execute(
                    sql: "UPDATE alerts SET cleared_at = ?, cleared_by = 'recovered' WHERE check_name = ? AND cleared_at IS NULL",
                    arguments: [at, check]
                )
            }
        }
    }

    public func openAlerts() async throws -> [String] {
        try await database.read { db in try String.fetchAll(db, sql: "SELECT DISTINCT check_name FROM alerts WHERE cleared_at IS NULL ORDER BY check_name") }
    }

    public func clearAlerts(check: String, by actor: String) async throws -> Int {
        try await database.record { db in
            try db.execute(
                sql: "UPDATE alerts SET cleared_at = ?, cleared_by = ? WHERE check_name = ? AND cleared_at IS NULL",
                arguments: [RecordTime.text(Date()), actor, check]
            )
            return db.changesCount
        }
    }

    public func alerts(includeCleared: Bool = false) async throws -> [AlertRecord] {
        try await database.read { db in
            try AlertRecord.fetchAll(db, sql: "SELECT * FROM alerts \(includeCleared ? "" : "WHERE cleared_at IS NULL") ORDER BY id")
        }
    }

    public func checkChanges(check: String? = nil) async throws -> [CheckChangeRecord] {
        try await database.read { db in
            try CheckChangeRecord.fetchAll(
                db, sql: "SELECT * FROM check_changes \(check == nil ? "" : "WHERE check_name = ?") ORDER BY id", arguments: StatementArguments(check.map { [$0] } ?? [])
            )
        }
    }
}

/// A check's state change, as recorded.
public struct CheckChangeRecord: Codable, Sendable, FetchableRecord {
    public var id: Int64
    public var checkName: String
    public var fromStatus: String
    public var toStatus: String
    public var value: Double?
    public var text: String
    public var subject: String?
    public var flapping: Bool
    public var at: Date

    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
}

/// An alert a check opened.
public struct AlertRecord: Codable, Sendable, FetchableRecord {
    public var id: Int64
    public var checkName: String
    public var subject: String?
    public var status: String
    public var message: String
    public var openedAt: Date
    public var updatedAt: Date
    public var clearedAt: Date?
    public var clearedBy: String?

    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
}

/// State changes of checks, and the alerts they open and clear.
