import Foundation
import PostgresNIO
import RunbookCore
import RunbookFlows

/// The flows' records in PostgreSQL, under the engine whose flows they crossed: each engine's
/// probes read back its own EAs, signals, fires and trades. The flows call from their own
/// threads, which wait for each write as they do for SQLite's.
public final class PostgresFlowStore: FlowStore, HealthRecords, Sendable {
    private let database: PostgresDatabase
    private let engine: String

    init(_ database: PostgresDatabase, engine: String) {
        self.database = database
        self.engine = engine
    }

    /// How long a flow waits for a write before it counts the server unreachable (and spools,
    /// where a `SpoolingFlowStore` is in front): a flow waiting stops relaying.
    static let patience = Duration.seconds(2)

    /// Whether a write failed because the server cannot be reached now (see `SpoolingFlowStore`).
    public static func isUnreachable(_ error: any Error) -> Bool {
        (error as? PostgresStoreError)?.isUnreachable ?? false
    }

    /// `body` on a connection, waited for on the calling thread (a flow's own).
    private func write<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection, String) async throws -> T) throws -> T {
        let (database, engine) = (database, engine)
        return try blocking { try await database.record(patience: .some(Self.patience)) { try await body($0, engine) } }
    }

    public func recordHeartbeats(target: String, account: String?, at date: Date, count: Int) throws {
        try write { connection, engine in
            try await connection.sql("""
                INSERT INTO ea_instances (engine, target_uuid, account, first_seen, last_seen, heartbeats)
                VALUES (\(engine), \(target), \(account), \(Stamp(date)), \(Stamp(date)), \(count))
                ON CONFLICT (engine, target_uuid) DO UPDATE SET last_seen = greatest(ea_instances.last_seen, excluded.last_seen),
                    heartbeats = ea_instances.heartbeats + excluded.heartbeats, account = coalesce(excluded.account, ea_instances.account)
                """)
        }
    }

    /// A write that timed out may still land, and is then written again from the spool: a signal
    /// received at the same instant with the same id, or a close of the same fire at the same
    /// instant, is that one record and is not written twice.
    public func recordSignal(_ signal: FlowMessage.Signal, at date: Date) throws {
        try write { connection, engine in
            try await connection.sql("""
                INSERT INTO signals (engine, signal_id, symbol, direction, entry, sl, tp, confidence, time_msc, received_at, raw)
                SELECT \(engine), \(signal.id), \(signal.symbol), \(signal.direction), \(signal.entry), \(signal.stopLoss), \(signal.takeProfit),
                    \(signal.confidence), \(signal.timeMsc), \(Stamp(date)), \(signal.raw)
                WHERE NOT EXISTS (SELECT 1 FROM signals WHERE engine = \(engine) AND received_at = \(Stamp(date)) AND signal_id = \(signal.id))
                """)
        }
    }

    public func recordFireQueued(_ fire: FlowMessage.Fire, at date: Date) throws -> Bool {
        try write { connection, engine in
            try await connection.count("""
                INSERT INTO fires (engine, fire_id, target_uuid, symbol, direction, lot, sl, tp, status, queued_at)
                VALUES (\(engine), \(fire.id), \(fire.target), \(fire.symbol), \(fire.direction), \(fire.lot), \(fire.stopLoss), \(fire.takeProfit),
                    'QUEUED', \(Stamp(date)))
                ON CONFLICT (engine, fire_id) DO NOTHING RETURNING 1
                """) > 0
        }
    }

    public func recordFireSent(id: String, at date: Date) throws {
        try write { connection, engine in
            try await connection.sql("UPDATE fires SET status = 'SENT', sent_at = \(Stamp(date)) WHERE engine = \(engine) AND fire_id = \(id) AND status = 'QUEUED'")
        }
    }

    public func recordFireFailed(id: String, reason: String, at date: Date) throws {
        try write { connection, engine in
            try await connection.sql("UPDATE fires SET status = 'FAILED', finished_at = \(Stamp(date)), error = \(reason) WHERE engine = \(engine) AND fire_id = \(id)")
        }
    }

    public func recordConfirmation(_ confirmation: FlowMessage.Confirmation, at date: Date) throws -> ConfirmationOutcome {
        try write { connection, engine in
            let error = confirmation.filled ? nil : (confirmation.error ?? "the EA reported a failure without a reason")
            let applied = try await connection.count("""
                UPDATE fires SET status = \(confirmation.filled ? "FILLED" : "FAILED"), finished_at = \(Stamp(date)),
                    ticket = coalesce(\(confirmation.ticket), ticket), price = coalesce(\(confirmation.price), price), error = \(error)
                WHERE engine = \(engine) AND fire_id = \(confirmation.fireID) AND status IN ('QUEUED', 'SENT') RETURNING 1
                """)
            if applied > 0 { return .applied }
            if try await connection.count("SELECT 1 FROM fires WHERE engine = \(engine) AND fire_id = \(confirmation.fireID)") > 0 { return .alreadyFinal }
            try await Self.recordUnmatched(connection, engine: engine, kind: .confirmation, fireID: confirmation.fireID, ticket: confirmation.ticket, at: date)
            return .unknownFire
        }
    }

    /// Kept a week; a write that timed out and is written again from the spool is that one
    /// answer, not two.
    private static func recordUnmatched(_ connection: PostgresConnection, engine: String, kind: UnmatchedAnswer.Kind, fireID: String, ticket: Int64?, at date: Date) async throws {
        try await connection.sql("""
            INSERT INTO unmatched_answers (engine, kind, fire_id, ticket, received_at)
            SELECT \(engine), \(kind.rawValue), \(fireID), \(ticket), \(Stamp(date))
            WHERE NOT EXISTS (SELECT 1 FROM unmatched_answers WHERE engine = \(engine) AND fire_id = \(fireID) AND kind = \(kind.rawValue) AND received_at = \(Stamp(date)))
            """)
        try await connection.sql("DELETE FROM unmatched_answers WHERE engine = \(engine) AND received_at < \(Stamp(date.addingTimeInterval(-TradeRecordsLimits.keepAnswers)))")
    }

    public func recordClose(_ close: FlowMessage.Close, at date: Date) throws -> Bool {
        try write { connection, engine in
            let known = try await connection.count("""
                WITH fire AS (SELECT fire_id, symbol FROM fires WHERE engine = \(engine) AND fire_id = \(close.fireID)),
                written AS (
                    INSERT INTO trades (engine, fire_id, symbol, ticket, exit_price, pnl, time_msc, closed_at)
                    SELECT \(engine), fire_id, symbol, \(close.ticket), \(close.exitPrice), \(close.pnl), \(close.timeMsc), \(Stamp(date)) FROM fire
                    WHERE NOT EXISTS (SELECT 1 FROM trades WHERE engine = \(engine) AND fire_id = \(close.fireID) AND closed_at = \(Stamp(date)))
                )
                SELECT 1 FROM fire
                """) > 0
            if !known { try await Self.recordUnmatched(connection, engine: engine, kind: .close, fireID: close.fireID, ticket: close.ticket, at: date) }
            return known
        }
    }

    public func recordPositions(_ report: FlowMessage.Positions, at date: Date) throws {
        let positions = String(decoding: try JSONEncoder().encode(report.positions), as: UTF8.self)
        try write { connection, engine in
            try await connection.sql("""
                INSERT INTO ea_positions (engine, target_uuid, reported_at, positions) VALUES (\(engine), \(report.target), \(Stamp(date)), \(positions))
                ON CONFLICT (engine, target_uuid) DO UPDATE SET reported_at = excluded.reported_at, positions = excluded.positions
                WHERE excluded.reported_at >= ea_positions.reported_at
                """)
        }
    }

    public func recordProbe(id: String, at date: Date) throws {
        try write { connection, engine in
            try await connection.sql("INSERT INTO probes (engine, probe_id, received_at) VALUES (\(engine), \(id), \(Stamp(date)))")
        }
    }

    public func fireTarget(id: String) throws -> String? {
        try write { connection, engine in
            try await connection.row("SELECT target_uuid FROM fires WHERE engine = \(engine) AND fire_id = \(id)") { try $0("target_uuid", as: String.self) }
        }
    }

    // MARK: HealthRecords

    fileprivate func read<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection, String) async throws -> T) async throws -> T {
        let engine = engine
        return try await database.record { try await body($0, engine) }
    }

    public func heartbeats() async throws -> [(ea: String, lastSeen: Date)] {
        let rows = try await read { connection, engine in
            try await connection.rows("SELECT target_uuid, last_seen FROM ea_instances WHERE engine = \(engine) ORDER BY target_uuid") {
                Heartbeat(ea: try $0("target_uuid"), lastSeen: try $0.date("last_seen"))
            }
        }
        return rows.map { ($0.ea, $0.lastSeen) }
    }

    private struct Heartbeat: Sendable {
        var ea: String
        var lastSeen: Date
    }

    /// The table and time column each kind of record arrives in.
    private static func source(of kind: RecordKind) -> (table: String, column: String, condition: String) {
        switch kind {
        case .signal: ("signals", "received_at", "true")
        case .fire: ("fires", "queued_at", FlowRecordsCanary.notCanary)
        case .confirmation: ("fires", "finished_at", "finished_at IS NOT NULL AND " + FlowRecordsCanary.notCanary)
        case .trade: ("trades", "closed_at", FlowRecordsCanary.notCanary)
        }
    }

    public func lastArrival(of kind: RecordKind) async throws -> Date? {
        let (table, column, condition) = Self.source(of: kind)
        return try await read { connection, engine in
            var binds = PostgresBindings()
            binds.append(engine)
            let query = PostgresQuery(unsafeSQL: "SELECT max(\(column)) AS last FROM \(table) WHERE engine = $1 AND \(condition)", binds: binds)
            return try await connection.row(query) { try $0.date(optional: "last") } ?? nil
        }
    }

    public func count(of kind: RecordKind, in interval: DateInterval) async throws -> Int {
        let (table, column, condition) = Self.source(of: kind)
        return try await read { connection, engine in
            var binds = PostgresBindings()
            binds.append(engine)
            binds.append(Stamp(interval.start))
            binds.append(Stamp(interval.end))
            let query = PostgresQuery(
                unsafeSQL: "SELECT count(*) AS n FROM \(table) WHERE engine = $1 AND \(condition) AND \(column) >= $2 AND \(column) <= $3", binds: binds
            )
            return try await connection.row(query) { try $0("n", as: Int.self) } ?? 0
        }
    }

    public func recentTrades(limit: Int) async throws -> [ClosedTrade] {
        try await read { connection, engine in
            try await connection.rows("SELECT symbol, pnl, closed_at FROM trades WHERE engine = \(engine) AND fire_id NOT LIKE 'canary-%' ORDER BY closed_at DESC, id DESC LIMIT \(limit)") {
                ClosedTrade(symbol: try $0("symbol", as: String?.self) ?? "?", pnl: try $0("pnl"), closedAt: try $0.date("closed_at"))
            }
        }
    }

    public func fireOutcome(id: String) async throws -> FireOutcome? {
        try await read { connection, engine in
            try await connection.row("SELECT status, error, sent_at, finished_at FROM fires WHERE engine = \(engine) AND fire_id = \(id)") {
                FireOutcome(status: try $0("status"), error: try $0("error"), sentAt: try $0.date(optional: "sent_at"), finishedAt: try $0.date(optional: "finished_at"))
            }
        }
    }

    public func firstRecord() async throws -> Date? {
        try await read { connection, engine in
            try await connection.row("""
                SELECT least((SELECT min(first_seen) FROM ea_instances WHERE engine = \(engine)), (SELECT min(received_at) FROM signals WHERE engine = \(engine)),
                    (SELECT min(queued_at) FROM fires WHERE engine = \(engine))) AS first
                """) { try $0.date(optional: "first") } ?? nil
        }
    }

    public func probeArrival(id: String) async throws -> Date? {
        try await read { connection, engine in
            try await connection.row("SELECT min(received_at) AS first FROM probes WHERE engine = \(engine) AND probe_id = \(id)") { try $0.date(optional: "first") } ?? nil
        }
    }

    public func queuedFires() async throws -> (count: Int, oldest: Date?) {
        let queued = try await read { connection, engine in
            try await connection.row("SELECT count(*) AS n, min(queued_at) AS oldest FROM fires WHERE engine = \(engine) AND status = 'QUEUED' AND fire_id NOT LIKE 'canary-%'") {
                Queued(count: try $0("n"), oldest: try $0.date(optional: "oldest"))
            }
        }
        return (queued?.count ?? 0, queued?.oldest)
    }

    private struct Queued: Sendable {
        var count: Int
        var oldest: Date?
    }
}

extension PostgresFlowStore: TradeRecords {
    public func openFills(since: Date) async throws -> [OpenFill] {
        try await read { connection, engine in
            try await connection.rows("""
                SELECT fire_id, target_uuid, symbol, lot, ticket, finished_at FROM fires
                WHERE engine = \(engine) AND status = 'FILLED' AND finished_at >= \(Stamp(since))
                    AND NOT EXISTS (SELECT 1 FROM trades WHERE trades.engine = fires.engine AND trades.fire_id = fires.fire_id)
                ORDER BY finished_at
                """) {
                OpenFill(
                    fireID: try $0("fire_id"), ea: try $0("target_uuid"), symbol: try $0("symbol"), lots: try $0("lot"), ticket: try $0("ticket"),
                    filledAt: try $0.date("finished_at")
                )
            }
        }
    }

    public func unansweredFires(since: Date) async throws -> [UnansweredFire] {
        try await read { connection, engine in
            try await connection.rows("""
                SELECT fire_id, target_uuid, symbol, sent_at FROM fires
                WHERE engine = \(engine) AND status = 'SENT' AND sent_at >= \(Stamp(since)) AND fire_id NOT LIKE 'canary-%'
                    AND NOT EXISTS (SELECT 1 FROM trades WHERE trades.engine = fires.engine AND trades.fire_id = fires.fire_id)
                ORDER BY sent_at LIMIT 1000
                """) { UnansweredFire(fireID: try $0("fire_id"), ea: try $0("target_uuid"), symbol: try $0("symbol"), sentAt: try $0.date("sent_at")) }
        }
    }

    public func closedFills(since: Date) async throws -> [ClosedFill] {
        try await read { connection, engine in
            try await connection.rows("""
                SELECT fires.fire_id, fires.target_uuid, coalesce(fires.ticket, trades.ticket) AS ticket, trades.closed_at FROM trades
                JOIN fires ON fires.engine = trades.engine AND fires.fire_id = trades.fire_id
                WHERE trades.engine = \(engine) AND trades.closed_at >= \(Stamp(since)) ORDER BY trades.closed_at
                """) { ClosedFill(fireID: try $0("fire_id"), ea: try $0("target_uuid"), ticket: try $0("ticket"), closedAt: try $0.date("closed_at")) }
        }
    }

    public func unmatchedAnswers(since: Date) async throws -> [UnmatchedAnswer] {
        try await read { connection, engine in
            try await connection.rows("""
                SELECT kind, fire_id, ticket, received_at FROM unmatched_answers
                WHERE engine = \(engine) AND received_at >= \(Stamp(since)) ORDER BY received_at DESC, id DESC LIMIT \(TradeRecordsLimits.answers)
                """) {
                UnmatchedAnswer(
                    kind: UnmatchedAnswer.Kind(rawValue: try $0("kind")) ?? .close, fireID: try $0("fire_id"), ticket: try $0("ticket"), at: try $0.date("received_at")
                )
            }
        }
    }

    public func positionReports() async throws -> [PositionReport] {
        let rows = try await read { connection, engine in
            try await connection.rows("SELECT target_uuid, reported_at, positions FROM ea_positions WHERE engine = \(engine) ORDER BY target_uuid") {
                StoredReport(ea: try $0("target_uuid"), at: try $0.date("reported_at"), positions: try $0("positions"))
            }
        }
        return try rows.map { PositionReport(ea: $0.ea, at: $0.at, positions: try JSONDecoder().decode([Position].self, from: Data($0.positions.utf8))) }
    }

    private struct StoredReport: Sendable {
        var ea: String
        var at: Date
        var positions: String
    }
}

/// The gate is the fleet's: one kill switch for every engine's command router.
extension PostgresFlowStore: GateStore {
    public func gate() async throws -> GateChange? {
        try await gateChanges(limit: 1).first
    }

    public func changeGate(_ change: GateChange) async throws {
        try await read { connection, _ in
            try await connection.sql("""
                INSERT INTO gate_changes (closed, reason, by, via, at) VALUES (\(change.closed), \(change.reason), \(change.by), \(change.via), \(Stamp(change.at)))
                """)
        }
    }

    public func gateChanges(limit: Int) async throws -> [GateChange] {
        try await read { connection, _ in
            try await connection.rows("SELECT * FROM gate_changes ORDER BY id DESC LIMIT \(limit)") {
                GateChange(closed: try $0("closed"), reason: try $0("reason"), by: try $0("by"), via: try $0("via"), at: try $0.date("at"))
            }
        }
    }
}
