import Foundation
import RunbookStore
import Testing

/// Milliseconds since 1970 of a wall-clock time in a zone.
func instant(_ text: String, _ zone: String = "UTC") -> Int64 {
    let formatter = DateFormatter()
    formatter.locale = Locale(identifier: "en_US_POSIX")
    formatter.timeZone = TimeZone(identifier: zone)
    formatter.dateFormat = "yyyy-MM-dd HH:mm:ss"
    return Int64(formatter.date(from: text)!.timeIntervalSince1970 * 1000)
}

@Suite struct BarAlignmentTests {
    let utc = BarAlignment()

    @Test func intradayBarsOpenOnMultiplesOfTheirPeriod() {
        let t = instant("2026-03-04 13:47:59") + 123
        #expect(utc.open(of: .m1, at: t) == instant("2026-03-04 13:47:00"))
        #expect(utc.open(of: .m5, at: t) == instant("2026-03-04 13:45:00"))
        #expect(utc.open(of: .m15, at: t) == instant("2026-03-04 13:45:00"))
        #expect(utc.open(of: .m30, at: t) == instant("2026-03-04 13:30:00"))
        #expect(utc.open(of: .h1, at: t) == instant("2026-03-04 13:00:00"))
        #expect(utc.open(of: .h4, at: t) == instant("2026-03-04 12:00:00"))
        #expect(utc.open(of: .d1, at: t) == instant("2026-03-04 00:00:00"))
    }

    @Test func weeksOpenOnSundayAndMonthsOnTheFirst() {
        // 2026-03-07 is a Saturday; 2026-03-08 a Sunday.
        #expect(utc.open(of: .w1, at: instant("2026-03-07 23:59:59")) == instant("2026-03-01 00:00:00"))
        #expect(utc.open(of: .w1, at: instant("2026-03-08 00:00:00")) == instant("2026-03-08 00:00:00"))
        #expect(utc.open(of: .mn, at: instant("2026-02-28 23:59:59")) == instant("2026-02-01 00:00:00"))
        #expect(utc.open(of: .mn, at: instant("2026-03-01 00:00:00")) == instant("2026-03-01 00:00:00"))
        #expect(utc.open(of: .mn, at: instant("2028-02-29 12:00:00")) == instant("2028-02-01 00:00:00"))
        #expect(utc.open(of: .m1, at: -1) == -60_000)
    }

    @Test func serverTimeZonesAndTheirDSTChanges() {
        let newYork = BarAlignment(timeZone: TimeZone(identifier: "America/New_York")!)
        // Spring forward, 2026-03-08: 02:00 EST becomes 03:00 EDT. The day still opens at local midnight.
        let afterJump = instant("2026-03-08 10:00:00", "America/New_York")
        #expect(newYork.open(of: .d1, at: afterJump) == instant("2026-03-08 00:00:00", "America/New_York"))
        #expect(newYork.open(of: .h4, at: afterJump) == instant("2026-03-08 08:00:00", "America/New_York"))
        #expect(newYork.open(of: .w1, at: afterJump) == instant("2026-03-08 00:00:00", "America/New_York"))
        // The H4 bar from local midnight is cut to 3 hours by the jump, and stays one bar.
        #expect(newYork.open(of: .h4, at: instant("2026-03-08 03:30:00", "America/New_York")) == instant("2026-03-08 00:00:00", "America/New_York"))
        #expect(newYork.open(of: .h4, at: instant("2026-03-08 01:30:00", "America/New_York")) == instant("2026-03-08 00:00:00", "America/New_York"))
        // Fall back, 2026-11-01: 01:00-02:00 happens twice; each hour is a bar of its own.
        let firstOne = instant("2026-11-01 05:30:00")   // 01:30 EDT
        let secondOne = instant("2026-11-01 06:30:00")  // 01:30 EST
        #expect(newYork.open(of: .h1, at: firstOne) == instant("2026-11-01 05:00:00"))
        #expect(newYork.open(of: .h1, at: secondOne) == instant("2026-11-01 06:00:00"))
        #expect(newYork.open(of: .d1, at: secondOne) == instant("2026-11-01 04:00:00"))
        // A day that a zone's DST change makes 23 hours long holds 23 H1 bars.
        let day = instant("2026-03-08 00:00:00", "America/New_York")
        let opens = Set(stride(from: day, to: day + 23 * 3_600_000, by: 600_000).map { newYork.open(of: .h1, at: $0) })
        #expect(opens.count == 23)
        #expect(Set(opens.map { newYork.open(of: .d1, at: $0) }) == [day])
    }
}
