import Foundation
import RunbookModel
import RunbookScheduler
import Testing

/// Cron in a zone that changes its clocks: a minute the clocks skip runs once, at the first
/// instant after the gap; a minute that comes round twice runs once, the first time.
@Suite struct DaylightSavingTests {
    // New York: 2026-03-08 02:00 EST becomes 03:00 EDT; 2026-11-01 02:00 EDT becomes 01:00 EST.
    @Test func newYorkSpringForwardRunsASkippedTimeOnceAtThreeOClock() throws {
        #expect(try fires("30 2 * * *", zone: "America/New_York", from: "2026-03-07T00:00:00-05:00", count: 3) == [
            "2026-03-07T02:30:00-05:00", "2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00",
        ])
        // Every minute of the missing hour collapses into one run, not one per minute.
        #expect(try fires("*/15 2 * * *", zone: "America/New_York", from: "2026-03-08T01:50:00-05:00", count: 2) == [
            "2026-03-08T03:00:00-04:00", "2026-03-09T02:00:00-04:00",
        ])
        // An hourly schedule runs at 01:00, then 03:00 ("02:00" does not happen), then 04:00.
        #expect(try fires("0 * * * *", zone: "America/New_York", from: "2026-03-08T00:30:00-05:00", count: 4) == [
            "2026-03-08T01:00:00-05:00", "2026-03-08T03:00:00-04:00", "2026-03-08T04:00:00-04:00", "2026-03-08T05:00:00-04:00",
        ])
    }

    @Test func anEveryHourScheduleSkipsAMinuteTheClocksSkip() throws {
        // 02:52 does not happen on the spring-forward night: an every-hour schedule runs at 01:52
        // and 03:52, as cron does, not also at 03:00 for the missing minute.
        #expect(try fires("52 * * * *", zone: "America/New_York", from: "2026-03-08T01:00:00-05:00", count: 3) == [
            "2026-03-08T01:52:00-05:00", "2026-03-08T03:52:00-04:00", "2026-03-08T04:52:00-04:00",
        ])
        #expect(try fires("*/20 * * * *", zone: "Europe/London", from: "2026-03-29T00:30:00Z", count: 4) == [
            "2026-03-29T00:40:00Z", "2026-03-29T02:00:00+01:00", "2026-03-29T02:20:00+01:00", "2026-03-29T02:40:00+01:00",
        ])
    }

    @Test func newYorkFallBackRunsARepeatedTimeOnce() throws {
        #expect(try fires("30 1 * * *", zone: "America/New_York", from: "2026-10-31T12:00:00-04:00", count: 2) == [
            "2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00",
        ])
        #expect(try fires("0,30 * * * *", zone: "America/New_York", from: "2026-11-01T00:45:00-04:00", count: 4) == [
            "2026-11-01T01:00:00-04:00", "2026-11-01T01:30:00-04:00", "2026-11-01T02:00:00-05:00", "2026-11-01T02:30:00-05:00",
        ])
        // Asked from inside the repeated hour, the times already run there are not run again.
        #expect(try fires("0,30 * * * *", zone: "America/New_York", from: "2026-11-01T01:10:00-05:00", count: 1) == ["2026-11-01T02:00:00-05:00"])
    }

    // London: 2026-03-29 01:00 GMT becomes 02:00 BST; 2026-10-25 02:00 BST becomes 01:00 GMT.
    @Test func londonSpringForwardRunsASkippedTimeOnceAtTwoOClock() throws {
        #expect(try fires("30 1 * * *", zone: "Europe/London", from: "2026-03-28T12:00:00Z", count: 2) == [
            "2026-03-29T02:00:00+01:00", "2026-03-30T01:30:00+01:00",
        ])
        #expect(try fires("*/15 1 * * *", zone: "Europe/London", from: "2026-03-29T00:50:00Z", count: 2) == [
            "2026-03-29T02:00:00+01:00", "2026-03-30T01:00:00+01:00",
        ])
    }

    @Test func londonFallBackRunsARepeatedTimeOnce() throws {
        #expect(try fires("30 1 * * *", zone: "Europe/London", from: "2026-10-24T12:00:00Z", count: 2) == [
            "2026-10-25T01:30:00+01:00", "2026-10-26T01:30:00Z",
        ])
        #expect(try fires("*/20 1 * * *", zone: "Europe/London", from: "2026-10-25T00:00:00+01:00", count: 4) == [
            "2026-10-25T01:00:00+01:00", "2026-10-25T01:20:00+01:00", "2026-10-25T01:40:00+01:00", "2026-10-26T01:00:00Z",
        ])
    }

    @Test func anHourlyScheduleRunsOncePerWallClockHourOnBothChangeDays() throws {
        let hourly = FireTimes(timing: .cron(try CronExpression.parse("0 * * * *"), TimeZone(identifier: "America/New_York")!))
        // The spring-forward day has 23 hours, the fall-back day 25: 23 and 24 runs.
        #expect(hourly.fires(after: Instant.at("2026-03-07T23:59:00-05:00"), through: Instant.at("2026-03-08T23:59:00-04:00")).count == 23)
        #expect(hourly.fires(after: Instant.at("2026-10-31T23:59:00-04:00"), through: Instant.at("2026-11-01T23:59:00-05:00")).count == 24)
    }

    @Test func aZoneKeepsItsWallClockAcrossTheOtherZonesChange() throws {
        // London changed on 2026-03-29; New York (already on EDT) still runs at 09:00 local.
        #expect(try fires("0 9 * * *", zone: "America/New_York", from: "2026-03-28T00:00:00Z", count: 3) == [
            "2026-03-28T09:00:00-04:00", "2026-03-29T09:00:00-04:00", "2026-03-30T09:00:00-04:00",
        ])
    }
}
