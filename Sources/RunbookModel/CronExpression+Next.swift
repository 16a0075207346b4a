import Foundation

extension CronExpression {
    /// How far ahead a match is looked for: February 29th on a given weekday comes within 28 years.
    static let searchYears = 30

    /// The first wall-clock minute after `minute` that the expression matches. It skips by
    /// field (a month, a day, an hour at a time), never minute by minute.
    func nextMatch(after minute: CivilMinute) -> CivilMinute? {
        var (year, month, day, hour, minute) = (minute.year, minute.month, minute.day, minute.hour, minute.minute + 1)
        let lastYear = year + Self.searchYears
        while year <= lastYear {
            if minute > 59 { (hour, minute) = (hour + 1, 0) }
            if hour > 23 { (day, hour, minute) = (day + 1, 0, 0) }
            if day > CivilMinute.daysIn(month: month, year: year) { (month, day, hour, minute) = (month + 1, 1, 0, 0) }
            if month > 12 { (year, month, day, hour, minute) = (year + 1, 1, 1, 0, 0) }
            guard let nextMonth = Self.first(in: months, from: month) else {
                (year, month, day, hour, minute) = (year + 1, 1, 1, 0, 0)
                continue
            }
            if nextMonth != month {
                (month, day, hour, minute) = (nextMonth, 1, 0, 0)
                continue
            }
            guard matchesDay(day, weekday: CivilMinute.weekday(year: year, month: month, day: day)) else {
                (day, hour, minute) = (day + 1, 0, 0)
                continue
            }
            guard let nextHour = Self.first(in: hours, from: hour) else {
                (day, hour, minute) = (day + 1, 0, 0)
                continue
            }
            if nextHour != hour { (hour, minute) = (nextHour, 0) }
            guard let nextMinute = Self.first(in: minutes, from: minute) else {
                (hour, minute) = (hour + 1, 0)
                continue
            }
            return CivilMinute(year: year, month: month, day: day, hour: hour, minute: nextMinute)
        }
        return nil
    }

    /// The first instant after `instant` at which the expression matches the wall clock of `zone`:
    /// DST-correct (a minute that comes round twice fires once, a skipped one after the gap).
    public func next(after instant: Date, in zone: TimeZone) -> Date? {
        var minute = zone.civilMinute(of: instant)
        // A wall-clock minute that comes round twice (the clocks went back) maps to its first
        // instant, which may be before `instant`: such minutes are passed over.
        for _ in 0..<1500 {
            guard let match = nextMatch(after: minute) else { return nil }
            let fire = zone.instant(of: match)
            // A minute the clocks skip runs once after the gap for a schedule of fixed hours; one
            // that runs every hour has the next hour to run in, so the skipped minute is passed
            // over, as cron does (52 * * * * runs at 01:52 and 03:52, not also at 03:00).
            let skipped = zone.civilMinute(of: fire) != match
            if fire > instant, !(skipped && everyHour) { return fire }
            minute = match
        }
        return nil
    }

    /// Whether the hour field takes every hour (`*`, `*/1`, `0-23`).
    var everyHour: Bool { hours & 0xFF_FFFF == 0xFF_FFFF }

    /// The smallest value in `set` that is `value` or more.
    private static func first(in set: UInt64, from value: Int) -> Int? {
        guard value < 64 else { return nil }
        let rest = set & (~0 << UInt64(value))
        return rest == 0 ? nil : rest.trailingZeroBitCount
    }
}
