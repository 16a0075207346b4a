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
    }

    /// The bar changes of this batch, aggregated in memory.
    public func barChanges(alignment: BarAlignment) -> [BarChange] {
        var changes: [String: BarChange] = [:]
        var order: [String] = []
        for tick in ticks {
            for timeframe in Timeframe.allCases {
                let open = alignment.open(of: timeframe, at: tick.timeMsc)
                let key = "\(tick.symbol)\u{1}\(timeframe.rawValue)\u{1}\(open)"
                if var change = changes[key] {
                    change.bar.high = max(change.bar.high, tick.bid)
                    change.bar.low = min(change.bar.low, tick.bid)
                    change.bar.ticks += 1
                    if tick.timeMsc < change.firstMsc {
                        change.firstMsc = tick.timeMsc
                        change.bar.open = tick.bid
                    }
                    if tick.timeMsc >= change.lastMsc {
                        change.lastMsc = tick.timeMsc
                        change.bar.close = tick.bid
                        change.bar.spread = tick.ask - tick.bid
                    }
                    changes[key] = change
                } else {
                    order.append(key)
                    changes[key] = BarChange(
                        bar: Bar(symbol: tick.symbol, timeframe: timeframe, openTime: open, tick: tick), firstMsc: tick.timeMsc, lastMsc: tick.timeMsc
                    )
                }
            }
        }
        return order.map { changes[$0]! }
    }
}

/// Where ticks are kept: SQLite by default; PostgreSQL behind the same protocol.
public protocol TickStore: Sendable {
    /// Stores a batch in one transaction: history, current, bars, and the batch's id as applied.
    /// A batch whose id is not above the last applied one is skipped (a replay), returning false.
    @discardableResult
    func store(_ batch: TickBatch) throws -> Bool
    /// The id of the last batch applied, 0 when none.
    func lastAppliedBatch() throws -> Int64
    func ticks(symbol: String, from: Int64?, to: Int64?, limit: Int?) throws -> [Tick]
    func bars(symbol: String, timeframe: Timeframe, from: Int64?, to: Int64?) throws -> [Bar]
    func current() throws -> [Tick]
}
