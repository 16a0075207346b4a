import Foundation
import GRDB
import RunbookChecks
import RunbookCore
import RunbookFlows

/// The flows' records, in the records database: EA instances, signals, fires with their status,
/// trades, test probes. Probes read them back through `HealthRecords`.
public final class SQLiteFlowStore: FlowStore, HealthRecords, RecordsMigrations, Sendable {
    private let database: any DatabaseWriter

    init(_ database: any DatabaseWriter) {
        self.database = database
    }

    /// Whether a write failed because the file cannot take it now (locked by another process past
    /// the busy timeout, a full or failing disk) rather than refusing the record: see
    /// `SpoolingFlowStore`.
    public static func isUnreachable(_ error: any Error) -> Bool {
        guard let error = error as? DatabaseError else { return false }
        return [.SQLITE_BUSY, .SQLITE_LOCKED, .SQLITE_IOERR, .SQLITE_FULL, .SQLITE_CANTOPEN, .SQLITE_PROTOCOL].contains(error.resultCode.primaryResultCode)
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
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
        // The kill switch on the command router: each change with who, how and why.
        migrator.registerMigration("v7: gate") { db in
            try db.create(table: "gate_changes") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("closed", .boolean).notNull()
                t.column("reason", .text).notNull()
                t.column("by", .text).notNull()
                t.column("via", .text).notNull()
                t.column("at", .datetime).notNull()
            }
        }
        // Reconciliation: each EA's last positions report, and answers for fires never queued.
        migrator.registerMigration("v8: positions and unmatched answers") { db in
            try db.create(table: "ea_positions") { t in
                t.primaryKey("target_uuid", .text)
                t.column("reported_at", .datetime).notNull()
                t.column("positions", .text).notNull()
            }
            try db.create(table: "unmatched_answers") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("kind", .text).notNull()
                t.column("fire_id", .text).notNull()
                t.column("ticket", .integer)
                t.column("received_at", .datetime).notNull().indexed()
            }
        }
        return migrator
    }

    public func recordHeartbeats(target: String, account: String?, at date: Date, count: Int) throws {
        let time = RecordTime.text(date)
        try database.writeWithoutTransaction { db in
            try db.cachedStatement(sql: """
                INSERT INTO ea_instances (target_uuid, account, first_seen, last_seen, heartbeats) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT(target_uuid) DO UPDATE SET last_seen = max(last_seen, excluded.last_seen), heartbeats = heartbeats + excluded.heartbeats,
                    account = coalesce(excluded.account, account)
                """).execute(arguments: [target, account, time, time, count])
        }
    }

    public func recordSignal(_ signal: FlowMessage.Signal, at date: Date) throws {
        try database.writeWithoutTransaction { db in
            try db.cachedStatement(sql: """
                INSERT INTO signals (signal_id, symbol, direction, entry, sl, tp, confidence, time_msc, received_at, raw)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """).execute(arguments: [
                signal.id, signal.symbol, signal.direction, signal.entry, signal.stopLoss, signal.takeProfit,
                signal.confidence, signal.timeMsc, RecordTime.text(date), signal.raw,
            ])
        }
    }

    public func recordFireQueued(_ fire: FlowMessage.Fire, at date: Date) throws -> Bool {
        try database.writeWithoutTransaction { db in
            try db.cachedStatement(sql: """
                INSERT INTO fires (fire_id, target_uuid, symbol, direction, lot, sl, tp, status, queued_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'QUEUED', ?)
                ON CONFLICT(fire_id) DO NOTHING
                """).execute(arguments: [fire.id, fire.target, fire.symbol, fire.direction, fire.lot, fire.stopLoss, fire.takeProfit, RecordTime.text(date)])
            return db.changesCount > 0
        }
    }

    public func recordFireSent(id: String, at date: Date) throws {
        try database.writeWithoutTransaction { db in
            try db.cachedStatement(sql: "UPDATE fires SET status = 'SENT', sent_at = ? WHERE fire_id = ? AND status = 'QUEUED'")
                .execute(arguments: [RecordTime.text(date), id])
        }
    }

    public func recordFireFailed(id: String, reason: String, at date: Date) throws {
        try database.writeWithoutTransaction { db in
            try db.cachedStatement(sql: "UPDATE fires SET status = 'FAILED', finished_at = ?, error = ? WHERE fire_id = ?")
                .execute(arguments: [RecordTime.text(date), reason, id])
        }
    }

    public func recordConfirmation(_ confirmation: FlowMessage.Confirmation, at date: Date) throws -> ConfirmationOutcome {
        try database.writeWithoutTransaction { db in
            try db.cachedStatement(sql: "UPDATE fires SET status = ?, finished_at = ?, ticket = coalesce(?, ticket), price = coalesce(?, price), error = ? WHERE fire_id = ? AND status IN ('QUEUED', 'SENT')")
                .execute(arguments: [
                    confirmation.filled ? "FILLED" : "FAILED", RecordTime.text(date), confirmation.ticket, confirmation.price,
                    confirmation.filled ? nil : (confirmation.error ?? "the EA reported a failure without a reason"), confirmation.fireID,
                ])
            if db.changesCount > 0 { return .applied }
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM fires WHERE fire_id = ?", arguments: [confirmation.fireID]) ?? false { return .alreadyFinal }
            try Self.recordUnmatched(db, kind: .confirmation, fireID: confirmation.fireID, ticket: confirmation.ticket, at: date)
            return .unknownFire
        }
    }

    /// Kept a week; the same answer written again from the spool is that one answer, not two.
    private static func recordUnmatched(_ db: Database, kind: UnmatchedAnswer.Kind, fireID: String, ticket: Int64?, at date: Date) throws {
        try db.cachedStatement(sql: """
            INSERT INTO unmatched_answers (kind, fire_id, ticket, received_at) SELECT ?, ?, ?, ?
            WHERE NOT EXISTS (SELECT 1 FROM unmatched_answers WHERE received_at = ? AND fire_id = ? AND kind = ?)
            """).execute(arguments: [kind.rawValue, fireID, ticket, RecordTime.text(date), RecordTime.text(date), fireID, kind.rawValue])
        try db.cachedStatement(sql: "DELETE FROM unmatched_answers WHERE received_at < ?")
            .execute(arguments: [RecordTime.text(date.addingTimeInterval(-TradeRecordsLimits.keepAnswers))])
    }

    public func recordClose(_ close: FlowMessage.Close, at date: Date) throws -> Bool {
        try database.writeWithoutTransaction { db in
            guard let symbol = try String.fetchOne(db, sql: "SELECT symbol FROM fires WHERE fire_id = ?", arguments: [close.fireID]) else {
                try Self.recordUnmatched(db, kind: .close, fireID: close.fireID, ticket: close.ticket, at: date)
                return false
            }
            try db.cachedStatement(sql: "INSERT INTO trades (fire_id, symbol, ticket, exit_price, pnl, time_msc, closed_at) VALUES (?, ?, ?, ?, ?, ?, ?)")
                .execute(arguments: [close.fireID, symbol, close.ticket, close.exitPrice, close.pnl, close.timeMsc, RecordTime.text(date)])
            return true
        }
    }

    public func recordProbe(id: String, at date: Date) throws {
        try database.writeWithoutTransaction { db in
            try db.cachedStatement(sql: "INSERT INTO probes (probe_id, received_at) VALUES (?, ?)").execute(arguments: [id, RecordTime.text(date)])
        }
    }

    public func recordPositions(_ report: FlowMessage.Positions, at date: Date) throws {
        let positions = String(decoding: try JSONEncoder().encode(report.positions), as: UTF8.self)
        try database.writeWithoutTransaction { db in
            try db.cachedStatement(sql: """
                INSERT INTO ea_positions (target_uuid, reported_at, positions) VALUES (?, ?, ?)
                ON CONFLICT(target_uuid) DO UPDATE SET reported_at = excluded.reported_at, positions = excluded.positions WHERE excluded.reported_at >= reported_at
                """).execute(arguments: [report.target, RecordTime.text(date), positions])
        }
    }

    public func fireTarget(id: String) throws -> String? {
        try database.read { db in try String.fetchOne(db, sql: "SELECT target_uuid FROM fires WHERE fire_id = ?", arguments: [id]) }
    }

    // MARK: Reading

    public struct FireRecord: Codable, Sendable, FetchableRecord {
        public var fireId: String
        public var targetUuid: String
        public var symbol: String
        public var direction: String
        public var lot: Double
        public var status: String
        public var ticket: Int64?
        public var price: Double?
        public var error: String?

        public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    }

    public func fire(id: String) throws -> FireRecord? {
        try database.read { db in try FireRecord.fetchOne(db, sql: "SELECT * FROM fires WHERE fire_id = ?", arguments: [id]) }
    }

    public func count(_ table: String) throws -> Int {
        precondition(["ea_instances", "signals", "fires", "trades", "probes", "runs", "step_attempts"].contains(table))
        return try database.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM \(table)") ?? 0 }
    }

    public func lastHeartbeat(of target: String) throws -> Date? {
        try database.read { db in try Date.fetchOne(db, sql: "SELECT last_seen FROM ea_instances WHERE target_uuid = ?", arguments: [target]) }
    }

    public func tradesPnL() throws -> [Double] {
        try database.read { db in try Double.fetchAll(db, sql: "SELECT pnl FROM trades ORDER BY id") }
    }

    // MARK: HealthRecords

    public func heartbeats() async throws -> [(ea: String, lastSeen: Date)] {
        try await database.read { db in
            try Row.fetchAll(db, sql: "SELECT target_uuid, last_seen FROM ea_instances ORDER BY target_uuid").map { ($0["target_uuid"], $0["last_seen"]) }
        }
    }

    /// The table and time column each kind of record arrives in.
    private static func source(of kind: RecordKind) -> (table: String, column: String, condition: String) {
        switch kind {
        case .signal: ("signals", "received_at", "1")
        case .fire: ("fires", "queued_at", FlowRecordsCanary.notCanary)
        case .confirmation: ("fires", "finished_at", "finished_at IS NOT NULL AND " + FlowRecordsCanary.notCanary)
        case .trade: ("trades", "closed_at", FlowRecordsCanary.notCanary)
        }
    }

    public func lastArrival(of kind: RecordKind) async throws -> Date? {
        let (table, column, condition) = Self.source(of: kind)
        return try await database.read { db in try Date.fetchOne(db, sql: "SELECT max(\(column)) FROM \(table) WHERE \(condition)") }
    }

    public func count(of kind: RecordKind, in interval: DateInterval) async throws -> Int {
        let (table, column, condition) = Self.source(of: kind)
        return try await database.read { db in
            try Int.fetchOne(
                db, sql: "SELECT count(*) FROM \(table) WHERE \(condition) AND \(column) >= ? AND \(column) <= ?",
                arguments: [RecordTime.text(interval.start), RecordTime.text(interval.end)]
            ) ?? 0
        }
    }

    public func recentTrades(limit: Int) async throws -> [ClosedTrade] {
        try await database.read { db in
            try Row.fetchAll(db, sql: "SELECT symbol, pnl, closed_at FROM trades WHERE \(FlowRecordsCanary.notCanary) ORDER BY closed_at DESC, id DESC LIMIT ?", arguments: [limit]).map {
                ClosedTrade(symbol: $0["symbol"] ?? "?", pnl: $0["pnl"], closedAt: $0["closed_at"])
            }
        }
    }

    public func fireOutcome(id: String) async throws -> FireOutcome? {
        try await database.read { db in
            try Row.fetchOne(db, sql: "SELECT status, error, sent_at, finished_at FROM fires WHERE fire_id = ?", arguments: [id]).map {
                FireOutcome(status: $0["status"], error: $0["error"], sentAt: $0["sent_at"], finishedAt: $0["finished_at"])
            }
        }
    }

    public func firstRecord() async throws -> Date? {
        try await database.read { db in
            try Date.fetchOne(db, sql: """
                SELECT min(first) FROM (SELECT min(first_seen) AS first FROM ea_instances UNION ALL SELECT min(received_at) FROM signals
                    UNION ALL SELECT min(queued_at) FROM fires)
                """)
        }
    }

    public func probeArrival(id: String) async throws -> Date? {
        try await database.read { db in try Date.fetchOne(db, sql: "SELECT min(received_at) FROM probes WHERE probe_id = ?", arguments: [id]) }
    }

    public func queuedFires() async throws -> (count: Int, oldest: Date?) {
        try await database.read { db in
            let row = try Row.fetchOne(db, sql: "SELECT count(*) AS n, min(queued_at) AS oldest FROM fires WHERE status = 'QUEUED' AND \(FlowRecordsCanary.notCanary)")
            return (row?["n"] ?? 0, row?["oldest"])
        }
    }
}

extension SQLiteFlowStore: TradeRecords {
    public func openFills(since: Date) async throws -> [OpenFill] {
        try await database.read { db in
            try Row.fetchAll(db, sql: """
                SELECT fire_id, target_uuid, symbol, lot, ticket, finished_at FROM fires
                WHERE status = 'FILLED' AND finished_at >= ? AND NOT EXISTS (SELECT 1 FROM trades WHERE trades.fire_id = fires.fire_id) ORDER BY finished_at
                """, arguments: [RecordTime.text(since)]).map {
                OpenFill(fireID: $0["fire_id"], ea: $0["target_uuid"], symbol: $0["symbol"], lots: $0["lot"], ticket: $0["ticket"], filledAt: $0["finished_at"])
            }
        }
    }

    public func unansweredFires(since: Date) async throws -> [UnansweredFire] {
        try await database.read { db in
            try Row.fetchAll(db, sql: """
                SELECT fire_id, target_uuid, symbol, sent_at FROM fires
                WHERE status = 'SENT' AND sent_at >= ? AND \(FlowRecordsCanary.notCanary) AND NOT EXISTS (SELECT 1 FROM trades WHERE trades.fire_id = fires.fire_id)
                ORDER BY sent_at LIMIT 1000
                """, arguments: [RecordTime.text(since)]
            ).map { UnansweredFire(fireID: $0["fire_id"], ea: $0["target_uuid"], symbol: $0["symbol"], sentAt: $0["sent_at"]) }
        }
    }

    public func closedFills(since: Date) async throws -> [ClosedFill] {
        try await database.read { db in
            try Row.fetchAll(db, sql: """
                SELECT fires.fire_id, fires.target_uuid, coalesce(fires.ticket, trades.ticket) AS ticket, trades.closed_at FROM trades
                JOIN fires ON fires.fire_id = trades.fire_id WHERE trades.closed_at >= ? ORDER BY trades.closed_at
                """, arguments: [RecordTime.text(since)]
            ).map { ClosedFill(fireID: $0["fire_id"], ea: $0["target_uuid"], ticket: $0["ticket"], closedAt: $0["closed_at"]) }
        }
    }

    public func unmatchedAnswers(since: Date) async throws -> [UnmatchedAnswer] {
        try await database.read { db in
            try Row.fetchAll(
                db, sql: "SELECT kind, fire_id, ticket, received_at FROM unmatched_answers WHERE received_at >= ? ORDER BY received_at DESC, id DESC LIMIT ?",
                arguments: [RecordTime.text(since), TradeRecordsLimits.answers]
            ).map { UnmatchedAnswer(kind: UnmatchedAnswer.Kind(rawValue: $0["kind"]) ?? .close, fireID: $0["fire_id"], ticket: $0["ticket"], at: $0["received_at"]) }
        }
    }

    public func positionReports() async throws -> [PositionReport] {
        try await database.read { db in
            try Row.fetchAll(db, sql: "SELECT target_uuid, reported_at, positions FROM ea_positions ORDER BY target_uuid").map { row in
                let positions = try JSONDecoder().decode([Position].self, from: Data((row["positions"] as String).utf8))
                return PositionReport(ea: row["target_uuid"], at: row["reported_at"], positions: positions)
            }
        }
    }
}

extension SQLiteFlowStore: GateStore {
    public func gate() async throws -> GateChange? {
        try await gateChanges(limit: 1).first
    }

    public func changeGate(_ change: GateChange) async throws {
        try await database.write { db in
            try db.execute(
                sql: "INSERT INTO gate_changes (closed, reason, by, via, at) VALUES (?, ?, ?, ?, ?)",
                arguments: [change.closed, change.reason, change.by, change.via, RecordTime.text(change.at)]
            )
        }
    }

    public func gateChanges(limit: Int) async throws -> [GateChange] {
        try await database.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM gate_changes ORDER BY id DESC LIMIT ?", arguments: [limit]).map {
                GateChange(closed: $0["closed"], reason: $0["reason"], by: $0["by"], via: $0["via"], at: $0["at"])
            }
        }
    }
}
