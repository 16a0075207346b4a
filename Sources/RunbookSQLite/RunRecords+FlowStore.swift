import Foundation
import GRDB
import RunbookFlows

/// The flows' records: EA instances, signals, fires with their status, trades, test probes.
extension RunRecords: FlowStore {
    public func recordHeartbeats(target: String, account: String?, at date: Date, count: Int) throws {
        let time = RecordTime.text(date)
        try write { db in
            try db.cachedStatement(sql: """
                INSERT INTO ea_instances (target_uuid, account, first_seen, last_seen, heartbeats) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT(target_uuid) DO UPDATE SET last_seen = max(last_seen, excluded.last_seen), heartbeats = heartbeats + excluded.heartbeats,
                    account = coalesce(excluded.account, account)
                """).execute(arguments: [target, account, time, time, count])
        }
    }

    public func recordSignal(_ signal: FlowMessage.Signal, at date: Date) throws {
        try write { db in
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
        try write { db in
            try db.cachedStatement(sql: """
                INSERT INTO fires (fire_id, target_uuid, symbol, direction, lot, sl, tp, status, queued_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'QUEUED', ?)
                ON CONFLICT(fire_id) DO NOTHING
                """).execute(arguments: [fire.id, fire.target, fire.symbol, fire.direction, fire.lot, fire.stopLoss, fire.takeProfit, RecordTime.text(date)])
            return db.changesCount > 0
        }
    }

    public func recordFireSent(id: String, at date: Date) throws {
        try write { db in
            try db.cachedStatement(sql: "UPDATE fires SET status = 'SENT', sent_at = ? WHERE fire_id = ? AND status = 'QUEUED'")
                .execute(arguments: [RecordTime.text(date), id])
        }
    }

    public func recordFireFailed(id: String, reason: String, at date: Date) throws {
        try write { db in
            try db.cachedStatement(sql: "UPDATE fires SET status = 'FAILED', finished_at = ?, error = ? WHERE fire_id = ?")
                .execute(arguments: [RecordTime.text(date), reason, id])
        }
    }

    public func recordConfirmation(_ confirmation: FlowMessage.Confirmation, at date: Date) throws -> ConfirmationOutcome {
        try write { db in
            try db.cachedStatement(sql: "UPDATE fires SET status = ?, finished_at = ?, ticket = coalesce(?, ticket), price = coalesce(?, price), error = ? WHERE fire_id = ? AND status IN ('QUEUED', 'SENT')")
                .execute(arguments: [
                    confirmation.filled ? "FILLED" : "FAILED", RecordTime.text(date), confirmation.ticket, confirmation.price,
                    confirmation.filled ? nil : (confirmation.error ?? "the EA reported a failure without a reason"), confirmation.fireID,
                ])
            if db.changesCount > 0 { return .applied }
            let known = try Bool.fetchOne(db, sql: "SELECT 1 FROM fires WHERE fire_id = ?", arguments: [confirmation.fireID]) ?? false
            return known ? .alreadyFinal : .unknownFire
        }
    }

    public func recordClose(_ close: FlowMessage.Close, at date: Date) throws -> Bool {
        try write { db in
            guard let symbol = try String.fetchOne(db, sql: "SELECT symbol FROM fires WHERE fire_id = ?", arguments: [close.fireID]) else { return false }
            try db.cachedStatement(sql: "INSERT INTO trades (fire_id, symbol, ticket, exit_price, pnl, time_msc, closed_at) VALUES (?, ?, ?, ?, ?, ?, ?)")
                .execute(arguments: [close.fireID, symbol, close.ticket, close.exitPrice, close.pnl, close.timeMsc, RecordTime.text(date)])
            return true
        }
    }

    public func recordProbe(id: String, at date: Date) throws {
        try write { db in
            try db.cachedStatement(sql: "INSERT INTO probes (probe_id, received_at) VALUES (?, ?)").execute(arguments: [id, RecordTime.text(date)])
        }
    }

    public func fireTarget(id: String) throws -> String? {
        try read { db in try String.fetchOne(db, sql: "SELECT target_uuid FROM fires WHERE fire_id = ?", arguments: [id]) }
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
        try read { db in try FireRecord.fetchOne(db, sql: "SELECT * FROM fires WHERE fire_id = ?", arguments: [id]) }
    }

    public func count(_ table: String) throws -> Int {
        precondition(["ea_instances", "signals", "fires", "trades", "probes", "runs", "step_attempts"].contains(table))
        return try read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM \(table)") ?? 0 }
    }

    public func lastHeartbeat(of target: String) throws -> Date? {
        try read { db in try Date.fetchOne(db, sql: "SELECT last_seen FROM ea_instances WHERE target_uuid = ?", arguments: [target]) }
    }

    public func tradesPnL() throws -> [Double] {
        try read { db in try Double.fetchAll(db, sql: "SELECT pnl FROM trades ORDER BY id") }
    }
}
