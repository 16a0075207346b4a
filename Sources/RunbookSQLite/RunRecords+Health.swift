import Foundation
import GRDB
import RunbookChecks
import RunbookModel

/// What probes read about the flows, from the records.
extension RunRecords: HealthRecords {
    public func heartbeats() throws -> [(ea: String, lastSeen: Date)] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT target_uuid, last_seen FROM ea_instances ORDER BY target_uuid").map { ($0["target_uuid"], $0["last_seen"]) }
        }
    }

    /// The table and time column each kind of record arrives in.
    private static func source(of kind: RecordKind) -> (table: String, column: String, condition: String) {
        switch kind {
        case .signal: ("signals", "received_at", "1")
        case .fire: ("fires", "queued_at", "1")
        case .confirmation: ("fires", "finished_at", "finished_at IS NOT NULL")
        case .trade: ("trades", "closed_at", "1")
        }
    }

    public func lastArrival(of kind: RecordKind) throws -> Date? {
        let (table, column, condition) = Self.source(of: kind)
        return try read { db in try Date.fetchOne(db, sql: "SELECT max(\(column)) FROM \(table) WHERE \(condition)") }
    }

    public func count(of kind: RecordKind, in interval: DateInterval) throws -> Int {
        let (table, column, condition) = Self.source(of: kind)
        return try read { db in
            try Int.fetchOne(
                db, sql: "SELECT count(*) FROM \(table) WHERE \(condition) AND \(column) >= ? AND \(column) <= ?",
                arguments: [RecordTime.text(interval.start), RecordTime.text(interval.end)]
            ) ?? 0
        }
    }

    public func recentTrades(limit: Int) throws -> [ClosedTrade] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT symbol, pnl, closed_at FROM trades ORDER BY closed_at DESC, id DESC LIMIT ?", arguments: [limit]).map {
                ClosedTrade(symbol: $0["symbol"] ?? "?", pnl: $0["pnl"], closedAt: $0["closed_at"])
            }
        }
    }

    public func probeArrival(id: String) throws -> Date? {
        try read { db in try Date.fetchOne(db, sql: "SELECT min(received_at) FROM probes WHERE probe_id = ?", arguments: [id]) }
    }

    public func queuedFires() throws -> (count: Int, oldest: Date?) {
        try read { db in
            let row = try Row.fetchOne(db, sql: "SELECT count(*) AS n, min(queued_at) AS oldest FROM fires WHERE status = 'QUEUED'")
            return (row?["n"] ?? 0, row?["oldest"])
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
extension RunRecords: CheckJournal, AlertBook {
    public func recordChange(check: String, from: CheckStatus, to: CheckStatus, result: CheckResult, flapping: Bool) throws {
        let at = RecordTime.text(result.at)
        try write { db in
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

    public func openAlerts() throws -> [String] {
        try read { db in try String.fetchAll(db, sql: "SELECT DISTINCT check_name FROM alerts WHERE cleared_at IS NULL ORDER BY check_name") }
    }

    public func clearAlerts(check: String, by actor: String) throws -> Int {
        try write { db in
            try db.execute(
                sql: "UPDATE alerts SET cleared_at = ?, cleared_by = ? WHERE check_name = ? AND cleared_at IS NULL",
                arguments: [RecordTime.text(Date()), actor, check]
            )
            return db.changesCount
        }
    }

    public func alerts(includeCleared: Bool = false) throws -> [AlertRecord] {
        try read { db in
            try AlertRecord.fetchAll(db, sql: "SELECT * FROM alerts \(includeCleared ? "" : "WHERE cleared_at IS NULL") ORDER BY id")
        }
    }

    public func checkChanges(check: String? = nil) throws -> [CheckChangeRecord] {
        try read { db in
            try CheckChangeRecord.fetchAll(
                db, sql: "SELECT * FROM check_changes \(check == nil ? "" : "WHERE check_name = ?") ORDER BY id", arguments: StatementArguments(check.map { [$0] } ?? [])
            )
        }
    }
}
