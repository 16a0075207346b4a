import Foundation
import RunbookModel
import RunbookScheduler
import Testing

/// Market-relative schedules follow the forex week (Sunday 17:00 to Friday 17:00 New York) through
/// New York's clock changes, and Europe's changes move nothing.
@Suite struct MarketScheduleTests {
    static let newYork = TimeZone(identifier: "America/New_York")!

    func times(_ anchor: MarketTime.Anchor, _ minutes: Int64, holidays: Set<String> = []) -> FireTimes {
        FireTimes(timing: .market(MarketTime(anchor: anchor, offset: .seconds(minutes * 60))), market: MarketCalendar(holidays: holidays))
    }

    func local(_ date: Date) -> DateComponents {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = Self.newYork
        return calendar.dateComponents([.weekday, .hour, .minute], from: date)
    }

    @Test func fifteenMinutesBeforeTheOpenIsSunday1645NewYorkEveryWeekOfTheYear() {
        let fires = times(.open, -15).fires(after: Instant.at("2026-01-01T00:00:00Z"), through: Instant.at("2027-01-01T00:00:00Z"))
        #expect(fires.count == 52)
        #expect(fires.allSatisfy { local($0).weekday == 1 && local($0).hour == 16 && local($0).minute == 45 })
        let utc = Set(fires.map { Instant.text($0, in: "UTC") })
        // The weeks around each clock change, in UTC: New York moves the fire, Europe does not.
        #expect(utc.isSuperset(of: [
            "2026-03-01T21:45:00Z", "2026-03-08T20:45:00Z", // New York springs forward on the morning of 03-08
            "2026-03-22T20:45:00Z", "2026-03-29T20:45:00Z", // Europe on 03-29
            "2026-10-25T20:45:00Z", // Europe falls back on 10-25
            "2026-11-01T21:45:00Z", "2026-11-08T21:45:00Z", // New York on 11-01
        ]))
    }

    @Test func thirtyMinutesAfterTheCloseIsFriday1730NewYorkEveryWeekOfTheYear() {
        let fires = times(.close, 30).fires(after: Instant.at("2026-01-01T00:00:00Z"), through: Instant.at("2027-01-01T00:00:00Z"))
        #expect(fires.count == 52)
        #expect(fires.allSatisfy { local($0).weekday == 6 && local($0).hour == 17 && local($0).minute == 30 })
        let utc = Set(fires.map { Instant.text($0, in: "UTC") })
        #expect(utc.isSuperset(of: ["2026-03-06T22:30:00Z", "2026-03-13T21:30:00Z", "2026-10-30T21:30:00Z", "2026-11-06T22:30:00Z"]))
    }

    @Test func holidaysMoveTheOpenAndTheCloseOfTheirWeek() {
        // A Monday holiday opens the week on Monday evening; a Friday holiday closes it on Thursday.
        let open = times(.open, -15, holidays: ["2026-01-19"]).upcoming(after: Instant.at("2026-01-16T12:00:00Z"), count: 2)
        #expect(open.map { Instant.text($0, in: "America/New_York") } == ["2026-01-19T16:45:00-05:00", "2026-01-25T16:45:00-05:00"])
        let close = times(.close, 30, holidays: ["2026-12-25"]).upcoming(after: Instant.at("2026-12-20T12:00:00Z"), count: 2)
        #expect(close.map { Instant.text($0, in: "America/New_York") } == ["2026-12-24T17:30:00-05:00", "2027-01-01T17:30:00-05:00"])
    }

    @Test func aCronScheduleDuringTheMarketSkipsTheWeekend() throws {
        let hourly = FireTimes(timing: .cron(try CronExpression.parse("0 * * * *"), Self.newYork), duringMarket: true, market: MarketCalendar())
        // Friday's 17:00 is the close, so the last fire is 16:00; the next is Sunday's 17:00 open, after New York's spring change.
        #expect(hourly.upcoming(after: Instant.at("2026-03-06T15:30:00-05:00"), count: 3).map { Instant.text($0, in: "America/New_York") } == [
            "2026-03-06T16:00:00-05:00", "2026-03-08T17:00:00-04:00", "2026-03-08T18:00:00-04:00",
        ])
        let week = hourly.fires(after: Instant.at("2026-06-07T00:00:00Z"), through: Instant.at("2026-06-14T00:00:00Z"))
        #expect(week.count == 5 * 24)
    }
}
