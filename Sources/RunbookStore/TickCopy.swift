/// What a tick store holds, as it holds it, for copying one store into another
/// (`runbook store migrate`): history rows with their order, packed blocks byte for byte, and
/// bars with the first and last tick times they merge by (`TickBatch.BarChange`).

/// A history row with its place among the rows of its millisecond (SQLite's rowid).
public struct HistoryRow: Sendable, Equatable {
    public var tick: Tick
    public var order: Int64

    public init(tick: Tick, order: Int64) {
        self.tick = tick
        self.order = order
    }
}

/// A packed block (`TickCodec`) as stored, with its place among the blocks of its symbol that
/// start at the same millisecond.
public struct PackedBlock: Sendable, Equatable {
    public var symbol: String
    public var startMsc: Int64
    public var endMsc: Int64
    public var count: Int
    public var data: [UInt8]
    public var order: Int64

    public init(symbol: String, startMsc: Int64, endMsc: Int64, count: Int, data: [UInt8], order: Int64) {
        self.symbol = symbol
        self.startMsc = startMsc
        self.endMsc = endMsc
        self.count = count
        self.data = data
        self.order = order
    }
}

/// What a store holds of one symbol, for comparing two stores.
public struct TickCounts: Sendable, Equatable {
    /// Unpacked history rows.
    public var history = 0
    /// Ticks in packed blocks, and the blocks.
    public var packed = 0
    public var blocks = 0
    public var bars = 0

    public init(history: Int = 0, packed: Int = 0, blocks: Int = 0, bars: Int = 0) {
        self.history = history
        self.packed = packed
        self.blocks = blocks
        self.bars = bars
    }

    /// History and packed ticks alike.
    public var ticks: Int { history + packed }
}

/// How far a copy of one part of one symbol (`history`, `blocks`, `bars M1` ...) has gone: the
/// position of the last item copied, as (time, order), and how many ticks or bars were copied.
public struct TickCopyMark: Sendable, Equatable, Hashable {
    public var symbol: String
    public var part: String
    public var msc: Int64
    public var order: Int64
    public var copied: Int64

    public init(symbol: String, part: String, msc: Int64 = .min, order: Int64 = .min, copied: Int64 = 0) {
        self.symbol = symbol
        self.part = part
        self.msc = msc
        self.order = order
        self.copied = copied
    }

    /// Nothing copied yet: before every item.
    public var isStart: Bool { msc == .min && order == .min && copied == 0 }
}
