import Foundation
import GRDB
import RunbookStore

/// The store as it holds its ticks, page by page, for copying it into another store
/// (`runbook store migrate`). Each page starts after a position, so a copy stopped half way
/// goes on from the last position it recorded.
extension SQLiteTickStore {
    /// Every symbol, by name.
    public func symbols() async throws -> [String] {
        try await database.read { db in try String.fetchAll(db, sql: "SELECT name FROM symbols ORDER BY name") }
    }

    /// Up to `limit` history rows of `symbol` after (time, rowid) `after`, in the order reads
    /// return them: by time, then rowid.
    public func historyRows(symbol: String, after: (msc: Int64, order: Int64), limit: Int) async throws -> [HistoryRow] {
        try await database.read { db in
            try Row.fetchAll(db, sql: """
                SELECT history.rowid, time_msc, bid, ask, volume FROM history
                WHERE symbol_id = (SELECT id FROM symbols WHERE name = ?) AND time_msc >= ? AND (time_msc > ? OR history.rowid > ?)
                ORDER BY time_msc, history.rowid LIMIT ?
                """, arguments: [symbol, after.msc, after.msc, after.order, limit]
            ).map { HistoryRow(tick: Tick(symbol: symbol, timeMsc: $0[1], bid: $0[2], ask: $0[3], volume: $0[4]), order: $0[0]) }
        }
    }

    /// The packed blocks of `symbol` after (start time, rowid) `after`, in the order reads take
    /// them, as many as hold `ticks` ticks (at least one).
    public func packedBlocks(symbol: String, after: (msc: Int64, order: Int64), ticks: Int) async throws -> [PackedBlock] {
        try await database.read { db in
            let rows = try Row.fetchCursor(db, sql: """
                SELECT blocks.rowid, start_msc, end_msc, count, data FROM blocks
                WHERE symbol_id = (SELECT id FROM symbols WHERE name = ?) AND start_msc >= ? AND (start_msc > ? OR blocks.rowid > ?)
                ORDER BY start_msc, blocks.rowid
                """, arguments: [symbol, after.msc, after.msc, after.order])
            var blocks: [PackedBlock] = []
            var total = 0
            while total < ticks, let row = try rows.next() {
                let block = PackedBlock(symbol: symbol, startMsc: row[1], endMsc: row[2], count: row[3], data: [UInt8](row[4] as Data), order: row[0])
                blocks.append(block)
                total += block.count
            }
            return blocks
        }
    }

    /// Up to `limit` bars of `symbol` and `timeframe` opening after `after`, oldest first, as
    /// stored: with the times of their first and last tick.
    public func storedBars(symbol: String, timeframe: Timeframe, after: Int64, limit: Int) async throws -> [TickBatch.BarChange] {
        try await database.read { db in
            try Row.fetchAll(db, sql: """
                SELECT open_time, open, high, low, close, ticks, spread, first_msc, last_msc FROM bars
                WHERE symbol_id = (SELECT id FROM symbols WHERE name = ?) AND timeframe = ? AND open_time > ? ORDER BY open_time LIMIT ?
                """, arguments: [symbol, timeframe.rawValue, after, limit]
            ).map {
                let bar = Bar(symbol: symbol, timeframe: timeframe, openTime: $0[0], open: $0[1], high: $0[2], low: $0[3], close: $0[4], ticks: $0[5], spread: $0[6])
                return TickBatch.BarChange(bar: bar, firstMsc: $0[7], lastMsc: $0[8])
            }
        }
    }

    /// History rows, packed ticks and blocks, and bars, by symbol.
    public func holdings() async throws -> [String: TickCounts] {
        try await database.read { db in
            var counts: [String: TickCounts] = [:]
            for row in try Row.fetchAll(db, sql: """
                SELECT name,
                    (SELECT count(*) FROM history WHERE symbol_id = symbols.id),
                    (SELECT coalesce(sum(count), 0) FROM blocks WHERE symbol_id = symbols.id),
                    (SELECT count(*) FROM blocks WHERE symbol_id = symbols.id),
                    (SELECT count(*) FROM bars WHERE symbol_id = symbols.id)
                FROM symbols
                """) {
                counts[row[0]] = TickCounts(history: row[1], packed: row[2], blocks: row[3], bars: row[4])
            }
            return counts
        }
    }
}
