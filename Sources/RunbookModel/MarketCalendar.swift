import Foundation

/// When the forex market trades: trading day D runs from 17:00 New York time on the day before D
/// to 17:00 on D, Monday to Friday, so the week opens Sunday 17:00 and closes Friday 17:00
/// America/New_York (whatever New York's DST says). A holiday (a New York date) removes that
/// trading day: a Friday holiday closes the week on Thursday at 17:00, a Monday holiday opens it
/// on Monday at 17:00.
public struct MarketCalendar: Sendable, Equatable {
    public static let zone = TimeZone(identifier: "America/New_York")!
    /// The hour of the daily roll, New York time.
    public static let rollHour = 17

    /// Holidays as New York dates `YYYY-MM-DD`.
    public var holidays: Set<String>

    public init(holidays: Set<String> = []) {
        self.holidays = holidays
    }

    private static let calendar: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        return calendar
    }()

    /// The trading day `instant` belongs to (the New York date the session ends on), whether
    /// or not the market trades on it.
    static func tradingDay(of instant: Date) -> DateComponents {
        let calendar = Self.calendar
        let local = calendar.dateComponents([.year, .month, .day, .hour], from: instant)
        var day = calendar.date(from: DateComponents(year: local.year, month: local.month, day: local.day, hour: 12))!
        if (local.hour ?? 0) >= rollHour { day = calendar.date(byAdding: .day, value: 1, to: day)! }
        return calendar.dateComponents([.year, .month, .day, .weekday], from: day)
    }

    /// Whether trading day `day` (year, month, day, weekday) trades.
    func trades(_ day: DateComponents) -> Bool {
        guard let weekday = day.weekday, (2...6).contains(weekday) else { return false }
        return !holidays.contains(String(format: "%04d-%02d-%02d", day.year ?? 0, day.month ?? 0, day.day ?? 0))
    }

    /// Whether the market trades at `instant`.
    public func isOpen(at instant: Date) -> Bool {
        trades(Self.tradingDay(of: instant))
    }

    /// The 17:00 New York roll that ends trading day `day`.
    static func roll(ending day: DateComponents) -> Date {
        calendar.date(from: DateComponents(year: day.year, month: day.month, day: day.day, hour: rollHour))!
    }

    /// The rolls after `instant` (each 17:00 New York), in order; at most `limit` of them, each
    /// computed only when asked for, since the one wanted is usually within the week.
    private static func rolls(after instant: Date, limit: Int) -> some Sequence<(at: Date, before: DateComponents, after: DateComponents)> {
        sequence(state: tradingDay(of: instant)) { day -> (at: Date, before: DateComponents, after: DateComponents)? in
            let at = roll(ending: day)
            let next = tradingDay(of: at)
            defer { day = next }
            return (at, day, next)
        }.prefix(limit)
    }

    /// The first instant after `instant` at which the market opens (a 17:00 roll from a day that
    /// does not trade into one that does); nil when none comes within a year.
    public func nextOpen(after instant: Date) -> Date? {
        Self.rolls(after: instant, limit: 370).first { !trades($0.before) && trades($0.after) && $0.at > instant }?.at
    }

    /// The first instant after `instant` at which the market closes; nil when none comes within a year.
    public func nextClose(after instant: Date) -> Date? {
        Self.rolls(after: instant, limit: 370).first { trades($0.before) && !trades($0.after) && $0.at > instant }?.at
    }

    /// The last instant at or before `instant` at which the market opened; nil when none within
    /// a year.
    public func lastOpen(before instant: Date) -> Date? {
        lastRoll(before: instant) { !trades($0) && trades($1) }
    }

    /// The last instant at or before `instant` at which the market closed; nil when none within
    /// a year.
    public func lastClose(before instant: Date) -> Date? {
        lastRoll(before: instant) { trades($0) && !trades($1) }
    }

    /// The last 17:00 roll at or before `instant` from a trading day into the next for which
    /// `matches(before, after)` holds; nil when none within a year.
    private func lastRoll(before instant: Date, where matches: (DateComponents, DateComponents) -> Bool) -> Date? {
        let calendar = Self.calendar
        var day = Self.tradingDay(of: instant)
        for _ in 0..<370 {
            let noon = calendar.date(from: DateComponents(year: day.year, month: day.month, day: day.day, hour: 12))!
            let previous = calendar.dateComponents([.year, .month, .day, .weekday], from: calendar.date(byAdding: .day, value: -1, to: noon)!)
            if matches(previous, day) {
                let roll = Self.roll(ending: previous)
                if roll <= instant { return roll }
            }
            day = previous
        }
        return nil
    }

    /// Whether the span from `start` to `end` takes in a New York Saturday: a weekend's closed
    /// span does (however holidays lengthen it), a holiday's within the week does not.
    public static func spansSaturday(from start: Date, to end: Date) -> Bool {
        var day = start
        while day < end {
            if calendar.component(.weekday, from: day) == 7 { return true }
            day = calendar.date(byAdding: .hour, value: 12, to: day)!
        }
        return calendar.component(.weekday, from: end) == 7
    }

    /// Whether `text` is a date `YYYY-MM-DD` that exists.
    public static func isDate(_ text: String) -> Bool {
        let parts = text.split(separator: "-")
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
              let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2])
        else { return false }
        let components = DateComponents(year: year, month: month, day: day)
        guard let date = calendar.date(from: components) else { return false }
        let back = calendar.dateComponents([.year, .month, .day], from: date)
        return back.year == year && back.month == month && back.day == day
    }
}
