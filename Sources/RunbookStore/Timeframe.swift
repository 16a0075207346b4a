import Foundation

/// The bar periods MT5 offers and the store maintains.
public enum Timeframe: String, Sendable, CaseIterable, Hashable {
    case m1 = "M1", m5 = "M5", m15 = "M15", m30 = "M30", h1 = "H1", h4 = "H4", d1 = "D1", w1 = "W1", mn = "MN"

    /// The shortest time a bar of this timeframe can span: a DST change takes an hour from a day,
    /// and from an H4 bar it falls in.
    var shortestLength: Int64 {
        switch self {
        case .d1: return 23 * 3_600_000
        case .w1: return (7 * 24 - 1) * 3_600_000
        case .mn: return (28 * 24 - 1) * 3_600_000
        case .h4: return 3 * 3_600_000
        default: return minutes! * 60_000
        }
    }

    /// The length of an intraday period, in minutes; nil for D1, W1 and MN.
    var minutes: Int64? {
        switch self {
        case .m1: return 1
        case .m5: return 5
        case .m15: return 15
        case .m30: return 30
        case .h1: return 60
        case .h4: return 240
        case .d1, .w1, .mn: return nil
        }
    }
}

/// Where bars open, as MT5 aligns them in the server's time zone: intraday bars on multiples of
/// their period from local midnight, D1 at local midnight, W1 on Sunday 00:00, MN on the 1st.
public struct BarAlignment: Sendable {
    public let timeZone: TimeZone
    private let calendar: Calendar

    public init(timeZone: TimeZone = TimeZone(identifier: "UTC")!) {
        self.timeZone = timeZone
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        calendar.firstWeekday = 1
        self.calendar = calendar
    }

    /// The open time (ms since 1970 UTC) of the `timeframe` bar that holds `timeMsc`.
    public func open(of timeframe: Timeframe, at timeMsc: Int64) -> Int64 {
        if let minutes = timeframe.minutes {
            // Floor the tick's wall-clock time in the zone, then find the instant of that wall-clock
            // time with the offset in force there: a bar that a DST change cuts short stays one bar,
            // and an hour the change repeats gives two bars, never one.
            let offset = self.offset(at: timeMsc)
            let period = minutes * 60_000
            let local = timeMsc + offset
            let wall = local - Self.modulo(local, period)
            let open = wall - offset
            let openOffset = self.offset(at: open)
            return openOffset == offset ? open : wall - openOffset
        }
        let date = Date(timeIntervalSince1970: Double(Self.floorDiv(timeMsc, 1000)))
        let start: Date
        switch timeframe {
        case .d1:
            start = calendar.startOfDay(for: date)
        case .w1:
            let day = calendar.startOfDay(for: date)
            let weekday = calendar.component(.weekday, from: day)
            start = calendar.date(byAdding: .day, value: -(weekday - 1), to: day) ?? day
        default:
            start = calendar.date(from: calendar.dateComponents([.year, .month], from: date)) ?? date
        }
        return Int64(start.timeIntervalSince1970) * 1000
    }

    /// Remembers, per timeframe, the last bar found and the stretch of time it surely covers, so
    /// that ticks in time order rarely need the calendar.
    struct Cache {
        let alignment: BarAlignment
        private var ranges: [(open: Int64, safeEnd: Int64)?]

        init(_ alignment: BarAlignment) {
            self.alignment = alignment
            ranges = Array(repeating: nil, count: Timeframe.allCases.count)
        }

        mutating func open(of index: Int, _ timeframe: Timeframe, at time: Int64) -> Int64 {
            if let range = ranges[index], time >= range.open, time < range.safeEnd { return range.open }
            let open = alignment.open(of: timeframe, at: time)
            ranges[index] = (open, open + timeframe.shortestLength)
            return open
        }
    }

    private func offset(at timeMsc: Int64) -> Int64 {
        Int64(timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(timeMsc) / 1000))) * 1000
    }

    static func modulo(_ value: Int64, _ divisor: Int64) -> Int64 {
        let remainder = value % divisor
        return remainder < 0 ? remainder + divisor : remainder
    }

    static func floorDiv(_ value: Int64, _ divisor: Int64) -> Int64 {
        (value - modulo(value, divisor)) / divisor
    }
}
