import Foundation

/// A minute on a wall clock, in no particular zone: what a cron expression matches.
struct CivilMinute: Comparable, Hashable, CustomStringConvertible {
    var year: Int
    var month: Int
    var day: Int
    var hour: Int
    var minute: Int

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
    static func days(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// 0 for Sunday.
    static func weekday(year: Int, month: Int, day: Int) -> Int {
        let days = days(year: year, month: month, day: day)
        return ((days % 7) + 11) % 7
    }

    /// Seconds since 1970 as if the wall clock were UTC.
    var wallSeconds: Int {
        Self.days(year: year, month: month, day: day) * 86_400 + hour * 3600 + minute * 60
    }

    /// The minute of a wall clock `seconds` after 1970 as if it were UTC (Hinnant's civil_from_days).
    init(wallSeconds seconds: Int) {
        let days = Int((Double(seconds) / 86_400).rounded(.down))
        let inDay = seconds - days * 86_400
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shifted = (5 * dayOfYear + 2) / 153
        day = dayOfYear - (153 * shifted + 2) / 5 + 1
        month = shifted < 10 ? shifted + 3 : shifted - 9
        year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        hour = inDay / 3600
        minute = inDay % 3600 / 60
    }

    init(year: Int, month: Int, day: Int, hour: Int, minute: Int) {
        self.year = year
        self.month = month
        self.day = day
        self.hour = hour
        self.minute = minute
    }

    static func < (lhs: Self, rhs: Self) -> Bool {
        (lhs.year, lhs.month, lhs.day, lhs.hour, lhs.minute) < (rhs.year, rhs.month, rhs.day, rhs.hour, rhs.minute)
    }

    var description: String {
        String(format: "%04d-%02d-%02d %02d:%02d", year, month, day, hour, minute)
    }
}

extension TimeZone {
    /// The wall-clock minute `instant` falls in, here.
    func civilMinute(of instant: Date) -> CivilMinute {
        let seconds = Int(instant.timeIntervalSince1970.rounded(.down)) + secondsFromGMT(for: instant)
        return CivilMinute(wallSeconds: seconds)
    }

    /// The instant a wall-clock minute stands for, here: the earlier of the two on the night the
    /// clocks go back, and the first instant after the gap for a minute the clocks skip when they
    /// go forward (02:30 on a night that jumps from 02:00 to 03:00 is the instant of 03:00).
    func instant(of minute: CivilMinute) -> Date {
        let wall = minute.wallSeconds
        let before = secondsFromGMT(for: Date(timeIntervalSince1970: Double(wall - 86_400)))
        let after = secondsFromGMT(for: Date(timeIntervalSince1970: Double(wall + 86_400)))
        let candidates = Set([before, after]).map { wall - $0 }.filter { secondsFromGMT(for: Date(timeIntervalSince1970: Double($0))) == wall - $0 }
        if let earliest = candidates.min() { return Date(timeIntervalSince1970: Double(earliest)) }
        // In the gap: the change happens between the two readings; find its second.
        var low = min(wall - before, wall - after)
        var high = max(wall - before, wall - after)
        let offsetAtLow = secondsFromGMT(for: Date(timeIntervalSince1970: Double(low)))
        while high - low > 1 {
            let middle = (low + high) / 2
            if secondsFromGMT(for: Date(timeIntervalSince1970: Double(middle))) == offsetAtLow { low = middle } else { high = middle }
        }
        return Date(timeIntervalSince1970: Double(high))
    }
}
