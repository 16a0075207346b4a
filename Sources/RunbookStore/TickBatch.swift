import Foundation

/// Ticks stored together in one transaction, with what they change in the bars.
public struct TickBatch: Sendable, Equatable {
    /// Increasing over the life of a store: a batch is applied at most once.
    public var id: Int64
    public var ticks: [Tick]

    public init(id: Int64, ticks: [Tick]) {
        self.id = id
        self.ticks = ticks
    }

    /// The change one batch makes to each bar it touches: open and close from its first and last
    /// tick by time, so bars merge correctly whatever order batches and late ticks arrive in.
    public struct BarChange: Sendable, Equatable {
        /// The bar as this batch alone makes it.
        public var bar: Bar
        public var firstMsc: Int64
        public var lastMsc: Int64

        /// Also a bar as a store keeps it, for copying it into another store as it is.
        public init(bar: Bar, firstMsc: Int64, lastMsc: Int64) {
            self.bar = bar
            self.firstMsc = firstMsc
            self.lastMsc = lastMsc
        }
    }

    /// The bar changes of this batch, aggregated in memory.
    public func barChanges(alignment: BarAlignment) -> [BarChange] {
        struct Key: Hashable {
            var symbol: Int
            var timeframe: Int
            var open: Int64
        }
        var symbols: [String: Int] = [:]
        var changes: [Key: Int] = [:]
        var ordered: [BarChange] = []
        var opens = BarAlignment.Cache(alignment)
        for tick in ticks {
            let symbol = symbols[tick.symbol] ?? {
                symbols[tick.symbol] = symbols.count
                return symbols.count - 1
            }()
            for (index, timeframe) in Timeframe.allCases.enumerated() {
                let open = opens.open(of: index, timeframe, at: tick.timeMsc)
                let key = Key(symbol: symbol, timeframe: index, open: open)
                if let position = changes[key] {
                    ordered[position].add(tick)
                } else {
                    changes[key] = ordered.count
                    ordered.append(BarChange(bar: Bar(symbol: tick.symbol, timeframe: timeframe, openTime: open, tick: tick), firstMsc: tick.timeMsc, lastMsc: tick.timeMsc))
                }
            }
        }
        return ordered
    }
}

extension TickBatch.BarChange {
    mutating func add(_ tick: Tick) {
        bar.high = max(bar.high, tick.bid)
        bar.low = min(bar.low, tick.bid)
        bar.ticks += 1
        if tick.timeMsc < firstMsc {
            firstMsc = tick.timeMsc
            bar.open = tick.bid
        }
        if tick.timeMsc >= lastMsc {
            lastMsc = tick.timeMsc
            bar.close = tick.bid
            bar.spread = tick.ask - tick.bid
        }
    }
}

/// Where ticks are kept: SQLite by default (`SQLiteTickStore`), or PostgreSQL
/// (`PostgresTickStore`), behind the same protocol and the same conformance suite.
public protocol TickStore: Sendable {
    /// Stores a batch in one transaction: history, current, bars, and the batch's id as applied.
    /// A batch whose id is not above the last applied one is skipped (a replay), returning false.
    /// It blocks until the batch is stored: the ingest calls it on threads of its own, never on
    /// the async executors (from async code, use `storing(_:)`).
    @discardableResult
    func store(_ batch: TickBatch) throws -> Bool
    /// The id of the last batch applied, 0 when none.
    func lastAppliedBatch() async throws -> Int64
    /// Packed and unpacked history alike, oldest first (ticks at the same instant in the order
    /// they were stored); `to` is excluded.
    func ticks(symbol: String, from: Int64?, to: Int64?, limit: Int?) async throws -> [Tick]
    func bars(symbol: String, timeframe: Timeframe, from: Int64?, to: Int64?) async throws -> [Bar]
    /// The latest tick of every symbol, by symbol name (byte order).
    func current() async throws -> [Tick]

    /// Packs history older than `cutoff` into one block per symbol and UTC day (`TickCodec`).
    func compress(olderThan cutoff: Int64, dryRun: Bool) async throws -> TickPolicyReport
    /// Drops history, packed or not, older than `cutoff`; bars are kept.
    func retain(olderThan cutoff: Int64, dryRun: Bool) async throws -> TickPolicyReport
    /// Rows and sizes, for `runbook store stats`.
    func stats() async throws -> [String: Int]
    /// Ticks per symbol from `from` (included) to `to` (excluded), packed or not.
    func tickCounts(from: Int64, to: Int64) async throws -> [String: Int]
    /// What is wrong with the store, empty when nothing is: for the `tick_store` probe.
    func problems() async throws -> [String]
}

extension TickStore {
    /// `store(_:)` from async code: on a thread of its own, so the blocking write never holds one
    /// of the async executors' few threads.
    @discardableResult
    public func storing(_ batch: TickBatch) async throws -> Bool {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread { continuation.resume(with: Result { try self.store(batch) }) }
            thread.name = "tick-store-call"
            thread.start()
        }
    }
}

/// What a compression or retention did (or, dry, would do).
public struct TickPolicyReport: Sendable, Equatable {
    public var ticks = 0
    public var blocks = 0
    /// Bytes the ticks took as rows of five 8-byte values, and as packed blocks.
    public var rawBytes = 0
    public var packedBytes = 0
    /// Whole partitions (a day of history each) dropped, where the store partitions history.
    public var partitionsDropped = 0

    public init() {}

    public var ratio: Double { packedBytes > 0 ? Double(rawBytes) / Double(packedBytes) : 0 }
    public var bytesPerTick: Double { ticks > 0 ? Double(packedBytes) / Double(ticks) : 0 }
}
