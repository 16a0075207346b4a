import Foundation
import RunbookModel
import RunbookScheduler
import Testing

/// `every:` schedules fire at whole multiples of their interval since 1970 UTC, so that every
/// engine of a fleet computes the same fire times, whatever the zone or the clock changes.
@Suite struct IntervalScheduleTests {
    @Test func everyFifteenSecondsFiresOnTheQuarterMinutesStrictlyAfterAnInstant() {
        let times = FireTimes(timing: .every(.seconds(15)))
        let fires = times.fires(after: Instant.at("2026-03-29T00:59:50Z"), through: Instant.at("2026-03-29T01:00:46Z")).map { Instant.text($0, in: "UTC") }
        #expect(fires == ["2026-03-29T01:00:00Z", "2026-03-29T01:00:15Z", "2026-03-29T01:00:30Z", "2026-03-29T01:00:45Z"])
        #expect(times.next(after: Instant.at("2026-03-29T01:00:15Z")).map { Instant.text($0, in: "UTC") } == "2026-03-29T01:00:30Z", "a fire time is not its own next")
    }

    @Test func whileTheMarketIsOpenAnIntervalSkipsTheWeekend() {
        let times = FireTimes(timing: .every(.seconds(3600)), duringMarket: true, market: MarketCalendar())
        // Friday 2026-03-06 17:00 New York (22:00 UTC) closes the market; Sunday 17:00 (21:00 UTC, after the clocks went forward) opens it.
        let fires = times.fires(after: Instant.at("2026-03-06T20:30:00Z"), through: Instant.at("2026-03-08T23:30:00Z")).map { Instant.text($0, in: "UTC") }
        #expect(fires == ["2026-03-06T21:00:00Z", "2026-03-08T21:00:00Z", "2026-03-08T22:00:00Z", "2026-03-08T23:00:00Z"])
    }

    @Test func anIntervalScheduleReadsAndRefusesWhatDoesNotFit() throws {
        let schedule = try ScheduleLoader.load(text: "name: beat\nrunbook: note\nevery: 30s\n", file: "beat.yaml")
        #expect(schedule.timing == .every(.seconds(30)))
        #expect(schedule.whenText == "every 30s")
        for (text, message) in [
            ("every: 500ms", "every must be whole seconds from 1s to 24h"),
            ("every: 2d", "every must be whole seconds from 1s to 24h"),
            ("every: 30s\ncron: '* * * * *'", "a schedule with every has no cron"),
        ] {
            #expect(throws: ValidationFailure.self) { try ScheduleLoader.load(text: "name: beat\nrunbook: note\n\(text)\n", file: "beat.yaml") }
            do { _ = try ScheduleLoader.load(text: "name: beat\nrunbook: note\n\(text)\n", file: "beat.yaml") } catch {
                #expect(error.diagnostics.contains { $0.message.contains(message) }, "\(error.diagnostics)")
            }
        }
    }
}
