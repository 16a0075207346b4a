import Foundation
import RunbookPostgres
import RunbookSQLite
import RunbookStore

/// Copies the SQLite tick store into a PostgreSQL one (`runbook store migrate`): per symbol its
/// history rows, its packed blocks byte for byte and its bars as they are, page by page, each page
/// in one transaction with the mark of how far its part has gone; then the latest ticks and the
/// last batch applied. Run again after a stop, it goes on from the marks, so every tick is stored
/// exactly once; run again after it finished, it copies nothing and compares again.
public struct TickStoreMigration: Sendable {
    public let source: SQLiteTickStore
    public let target: PostgresTickStore
    /// Ticks (history rows, or the ticks of packed blocks, at least one block) or bars per transaction.
    public let batch: Int

    public init(source: SQLiteTickStore, target: PostgresTickStore, batch: Int) {
        self.source = source
        self.target = target
        self.batch = max(batch, 1)
    }

    /// How far the copy of one symbol has gone: ticks (history and packed) and bars copied, by this
    /// run and by the runs before it, of those the SQLite store holds.
    public struct Progress: Sendable, Equatable {
        public var symbol: String
        /// Its place among the symbols, from 1, and their number.
        public var index: Int
        public var symbols: Int
        public var total: TickCounts
        /// What this run copied (`packed` and `blocks` of packed blocks), and what earlier ones had.
        public var now = TickCounts()
        public var before = TickCounts()

        public var ticksCopied: Int { now.ticks + before.ticks }
        public var barsCopied: Int { now.bars + before.bars }
    }

    /// One symbol's counts in each store.
    public struct Comparison: Sendable, Equatable {
        public var symbol: String
        public var source: TickCounts
        public var target: TickCounts

        /// The same ticks, history and packed together, and the same bars.
        public var matches: Bool { source.ticks == target.ticks && source.bars == target.bars }
    }

    /// Copies what is not yet copied, telling `progress` after each page and `finished` after
    /// each symbol; throws when the PostgreSQL store already holds ticks no migration copied.
    /// Its errors are `TickMigrationError`s, without the URL's password.
    public func run(progress: (Progress) -> Void = { _ in }, finished: (Progress) -> Void = { _ in }) async throws {
        do {
            try await copy(progress: progress, finished: finished)
        } catch let error as TickMigrationError {
            throw error
        } catch {
            throw TickMigrationError("\(error)")
        }
    }

    private func copy(progress: (Progress) -> Void, finished: (Progress) -> Void) async throws {
        let marks = try await target.copyMarks()
        if marks.isEmpty { try await requireEmptyTarget() }
        var recorded: [String: TickCopyMark] = [:]
        for mark in marks { recorded[mark.symbol + "\t" + mark.part] = mark }
        func mark(_ symbol: String, _ part: String) -> TickCopyMark { recorded[symbol + "\t" + part] ?? TickCopyMark(symbol: symbol, part: part) }

        let counts = try await source.holdings()
        let symbols = counts.keys.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        for (index, symbol) in symbols.enumerated() {
            var state = Progress(symbol: symbol, index: index + 1, symbols: symbols.count, total: counts[symbol]!)
            state.before.history = Int(mark(symbol, "history").copied)
            state.before.packed = Int(mark(symbol, "blocks").copied)
            state.before.bars = Timeframe.allCases.reduce(0) { $0 + Int(mark(symbol, "bars \($1.rawValue)").copied) }
            progress(state)
            try await copyPart(from: mark(symbol, "history"), page: { try await source.historyRows(symbol: symbol, after: ($0.msc, $0.order), limit: batch) },
                               position: { ($0.tick.timeMsc, $0.order, 1) }, store: target.importHistory) { rows in
                state.now.history += rows.count
                progress(state)
            }
            try await copyPart(from: mark(symbol, "blocks"), page: { try await source.packedBlocks(symbol: symbol, after: ($0.msc, $0.order), ticks: batch) },
                               position: { ($0.startMsc, $0.order, $0.count) }, store: target.importBlocks) { blocks in
                state.now.blocks += blocks.count
                state.now.packed += blocks.reduce(0) { $0 + $1.count }
                progress(state)
            }
            for timeframe in Timeframe.allCases {
                try await copyPart(from: mark(symbol, "bars \(timeframe.rawValue)"), page: { try await source.storedBars(symbol: symbol, timeframe: timeframe, after: $0.msc, limit: batch) },
                                   position: { ($0.bar.openTime, 0, 1) }, store: target.importBars) { bars in
                    state.now.bars += bars.count
                    progress(state)
                }
            }
            finished(state)
        }
        try await target.importCurrent(try await source.current(), lastBatch: try await source.lastAppliedBatch())
    }

    /// Copies one part page by page from `start`: `position` gives an item's time, order and the
    /// ticks (or bars) it counts for; `copied` hears of each page stored.
    private func copyPart<Item: Sendable>(
        from start: TickCopyMark,
        page: (TickCopyMark) async throws -> [Item],
        position: (Item) -> (msc: Int64, order: Int64, count: Int),
        store: ([Item], TickCopyMark, TickCopyMark) async throws -> Void,
        copied: ([Item]) -> Void
    ) async throws {
        var mark = start
        while true {
            let items = try await page(mark)
            guard let last = items.last else { return }
            var next = mark
            (next.msc, next.order) = (position(last).msc, position(last).order)
            next.copied += Int64(items.reduce(0) { $0 + position($1).count })
            try await store(items, mark, next)
            mark = next
            copied(items)
        }
    }

    /// Refuses a PostgreSQL store that holds ticks, bars or latest ticks of its own: the copy
    /// would add to them.
    private func requireEmptyTarget() async throws {
        let held = try await target.holdings().values.contains { $0.ticks > 0 || $0.bars > 0 }
        let latest = try await target.current()
        if held || !latest.isEmpty {
            throw TickMigrationError("the PostgreSQL tick store at \(target.database.url) already holds ticks, and no migration into it was started: migrate into an empty database")
        }
    }

    /// Each symbol of either store with its counts in both, by name.
    public func compare() async throws -> [Comparison] {
        let source: [String: TickCounts], target: [String: TickCounts]
        do {
            (source, target) = (try await self.source.holdings(), try await self.target.holdings())
        } catch {
            throw TickMigrationError("\(error)")
        }
        return Set(source.keys).union(target.keys).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }.map {
            Comparison(symbol: $0, source: source[$0] ?? TickCounts(), target: target[$0] ?? TickCounts())
        }
    }

    public func close() { target.close() }
}

/// Why a migration of the tick store cannot go on; said without the URL's password.
public struct TickMigrationError: Error, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = PostgresURL.redact(description)
    }
}
