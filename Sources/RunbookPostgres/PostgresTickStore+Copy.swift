import Foundation
import NIOCore
import PostgresNIO
import RunbookStore

/// Copying another store into this one (`runbook store migrate`): history rows, packed blocks byte
/// for byte, and bars as they are, each page in one transaction with the mark of how far the copy
/// of its part has gone (`tick_migration`), so a copy killed half way goes on from the last mark
/// and stores every tick exactly once.
extension PostgresTickStore {
    /// Every mark recorded so far.
    public func copyMarks() async throws -> [TickCopyMark] {
        try await prepare()
        return try await database.withConnection { connection in
            var marks: [TickCopyMark] = []
            let rows = try await connection.sql("SELECT symbol, part, position_msc, position_order, copied FROM tick_migration ORDER BY symbol, part")
            for try await (symbol, part, msc, order, copied) in rows.decode((String, String, Int64, Int64, Int64).self) {
                marks.append(TickCopyMark(symbol: symbol, part: part, msc: msc, order: order, copied: copied))
            }
            return marks
        }
    }

    /// Stores history rows of one symbol, in their order: `seq` is the row's order below every
    /// seq the ingest gives (those are from 0 up), so rows at the same millisecond read back in
    /// the order they had, and before any the ingest stores later.
    public func importHistory(_ rows: [HistoryRow], from mark: TickCopyMark, to next: TickCopyMark) async throws {
        try await prepare()
        try await ensurePartitions(Set(rows.map { Self.day(of: $0.tick.timeMsc) }))
        let ids = try await symbolIDs([mark.symbol])
        let chunks = Self.copyText(rows.map(\.tick), ids: ids) { Int64.min + max(rows[$0].order, 0) }
        let logger = database.logger
        try await copying(from: mark, to: next) { connection in
            if !chunks.isEmpty { try await Self.copyHistory(chunks, connection, logger: logger) }
        }
    }

    /// Stores packed blocks of one symbol as they are, in their order.
    public func importBlocks(_ blocks: [PackedBlock], from mark: TickCopyMark, to next: TickCopyMark) async throws {
        try await prepare()
        let id = try await symbolIDs([mark.symbol])[mark.symbol]!
        try await copying(from: mark, to: next) { connection in
            for block in blocks {
                try await connection.sql("""
                    INSERT INTO tick_blocks (symbol_id, start_msc, end_msc, count, data)
                    VALUES (\(id), \(block.startMsc), \(block.endMsc), \(Int32(block.count)), \(ByteBuffer(bytes: block.data)))
                    """)
            }
        }
    }

    /// Stores bars of one symbol as they are, their first and last tick times included (merged
    /// as the ingest merges them where a bar is already here).
    public func importBars(_ bars: [TickBatch.BarChange], from mark: TickCopyMark, to next: TickCopyMark) async throws {
        try await prepare()
        let ids = try await symbolIDs([mark.symbol])
        try await copying(from: mark, to: next) { connection in
            if !bars.isEmpty { try await connection.sql(Self.upsertBars(bars, ids: ids)) }
        }
    }

    /// Stores the latest ticks where they are later than those here, and the last batch applied
    /// where it is above this store's.
    public func importCurrent(_ ticks: [Tick], lastBatch: Int64) async throws {
        try await prepare()
        try await database.withTransaction { connection in
            if !ticks.isEmpty { try await connection.sql(Self.upsertCurrent(ticks)) }
            try await connection.sql("""
                INSERT INTO tick_ingest (writer, last_batch) VALUES (\(self.writer), \(lastBatch))
                ON CONFLICT (writer) DO UPDATE SET last_batch = greatest(tick_ingest.last_batch, excluded.last_batch)
                """)
        }
    }

    /// History rows, packed ticks and blocks, and bars, by symbol.
    public func holdings() async throws -> [String: TickCounts] {
        try await prepare()
        return try await database.withConnection { connection in
            var counts: [String: TickCounts] = [:]
            let rows = try await connection.sql("""
                SELECT name,
                    (SELECT count(*) FROM tick_history WHERE symbol_id = tick_symbols.id),
                    (SELECT coalesce(sum(count), 0)::bigint FROM tick_blocks WHERE symbol_id = tick_symbols.id),
                    (SELECT count(*) FROM tick_blocks WHERE symbol_id = tick_symbols.id),
                    (SELECT count(*) FROM tick_bars WHERE symbol_id = tick_symbols.id)
                FROM tick_symbols
                """)
            for try await (name, history, packed, blocks, bars) in rows.decode((String, Int64, Int64, Int64, Int64).self) {
                counts[name] = TickCounts(history: Int(history), packed: Int(packed), blocks: Int(blocks), bars: Int(bars))
            }
            return counts
        }
    }

    /// Runs `body` in a transaction that moves the mark of its part from `mark` to `next`; fails
    /// without storing anything when the recorded mark is not `mark` (another copy moved it).
    private func copying(from mark: TickCopyMark, to next: TickCopyMark, _ body: @escaping @Sendable (PostgresConnection) async throws -> Void) async throws {
        try await database.withTransaction { connection in
            var recorded: TickCopyMark?
            let rows = try await connection.sql("""
                SELECT position_msc, position_order, copied FROM tick_migration WHERE symbol = \(mark.symbol) AND part = \(mark.part) FOR UPDATE
                """)
            for try await (msc, order, copied) in rows.decode((Int64, Int64, Int64).self) {
                recorded = TickCopyMark(symbol: mark.symbol, part: mark.part, msc: msc, order: order, copied: copied)
            }
            guard (recorded ?? TickCopyMark(symbol: mark.symbol, part: mark.part)) == mark else {
                throw PostgresStoreError("the copy of \(mark.symbol) \(mark.part) is not where this one left it: is another `runbook store migrate` running?")
            }
            try await body(connection)
            if recorded == nil {
                try await connection.sql("""
                    INSERT INTO tick_migration (symbol, part, position_msc, position_order, copied)
                    VALUES (\(next.symbol), \(next.part), \(next.msc), \(next.order), \(next.copied))
                    """)
            } else {
                try await connection.sql("""
                    UPDATE tick_migration SET position_msc = \(next.msc), position_order = \(next.order), copied = \(next.copied), updated_at = now()
                    WHERE symbol = \(next.symbol) AND part = \(next.part)
                    """)
            }
        }
    }
}
