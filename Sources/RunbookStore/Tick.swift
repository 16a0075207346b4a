/// One quote from an EA: prices on the bid and ask side at a millisecond of MT5 time.
public struct Tick: Sendable, Equatable, Hashable {
    public var symbol: String
    /// Milliseconds since 1970, UTC, as MT5's `time_msc`.
    public var timeMsc: Int64
    public var bid: Double
    public var ask: Double
    public var volume: Double

    public init(symbol: String, timeMsc: Int64, bid: Double, ask: Double, volume: Double = 0) {
        self.symbol = symbol
        self.timeMsc = timeMsc
        self.bid = bid
        self.ask = ask
        self.volume = volume
    }
}

/// An OHLC bar on the bid, with its tick count and the spread of its last tick.
public struct Bar: Sendable, Equatable {
    public var symbol: String
    public var timeframe: Timeframe
    /// When the bar opens, milliseconds since 1970 UTC.
    public var openTime: Int64
    public var open: Double
    public var high: Double
    public var low: Double
    public var close: Double
    public var ticks: Int
    /// Ask minus bid of the bar's last tick.
    public var spread: Double

    public init(symbol: String, timeframe: Timeframe, openTime: Int64, tick: Tick) {
        self.symbol = symbol
        self.timeframe = timeframe
        self.openTime = openTime
        open = tick.bid
        high = tick.bid
        low = tick.bid
        close = tick.bid
        ticks = 1
        spread = tick.ask - tick.bid
    }

    public init(symbol: String, timeframe: Timeframe, openTime: Int64, open: Double, high: Double, low: Double, close: Double, ticks: Int, spread: Double) {
        self.symbol = symbol
        self.timeframe = timeframe
        self.openTime = openTime
        self.open = open
        self.high = high
        self.low = low
        self.close = close
        self.ticks = ticks
        self.spread = spread
    }

    /// The bar with one more tick of its period.
    public mutating func add(_ tick: Tick) {
        high = max(high, tick.bid)
        low = min(low, tick.bid)
        close = tick.bid
        ticks += 1
        spread = tick.ask - tick.bid
    }
}

extension Tick {
    /// Two time-ordered runs as one (packed history and rows), the first's tick first where
    /// times are equal.
    public static func merged(_ first: [Tick], _ second: [Tick]) -> [Tick] {
        var merged: [Tick] = []
        merged.reserveCapacity(first.count + second.count)
        var i = 0, j = 0
        while i < first.count || j < second.count {
            if j == second.count || (i < first.count && first[i].timeMsc <= second[j].timeMsc) {
                merged.append(first[i])
                i += 1
            } else {
                merged.append(second[j])
                j += 1
            }
        }
        return merged
    }
}
