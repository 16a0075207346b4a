import Foundation
import RunbookModel
import Testing

/// When a maintenance window is in force and when it next starts, across the clocks changing.
@Suite struct MaintenanceWindowTests {
    private func at(_ text: String) -> Date {
        try! Date(text, strategy: .iso8601)
    }

    private func weekly(_ holdRuns: Bool = false) throws -> MaintenanceWindow {
        let recurrence = try MaintenanceWindow.recurrence(every: "0 22 * * 5", length: "2h", zone: "Europe/London", during: nil)
        return MaintenanceWindow(target: "ea-heartbeat", recurrence: recurrence, reason: "broker maintenance", by: "ops", createdAt: at("2026-10-01T00:00:00Z"), holdRuns: holdRuns)
    }

    // London leaves summer time on 2026-10-25: 22:00 on Friday the 23rd is 21:00 UTC, on Friday
    // the 30th it is 22:00 UTC.
    @Test func aLondonEveningWindowFollowsTheClocksAcrossTheChange() throws {
        let window = try weekly()
        #expect(window.interval(at: at("2026-10-23T20:59:00Z")) == nil)
        #expect(window.interval(at: at("2026-10-23T21:30:00Z")) == DateInterval(start: at("2026-10-23T21:00:00Z"), end: at("2026-10-23T23:00:00Z")))
        #expect(window.interval(at: at("2026-10-23T23:00:00Z")) == nil)
        #expect(window.interval(at: at("2026-10-30T21:30:00Z")) == nil)
        #expect(window.interval(at: at("2026-10-30T22:30:00Z")) == DateInterval(start: at("2026-10-30T22:00:00Z"), end: at("2026-10-31T00:00:00Z")))
        #expect(window.nextStart(after: at("2026-10-23T21:00:00Z")) == at("2026-10-30T22:00:00Z"))
        #expect(window.nextStart(after: at("2026-10-20T00:00:00Z")) == at("2026-10-23T21:00:00Z"))
    }

    @Test func windowsThatWouldOverlapAreRefusedAndOneKeptBeforeIsBounded() throws {
        #expect(throws: WindowError.self) { try MaintenanceWindow.recurrence(every: "0 * * * *", length: "90m", zone: nil, during: nil) }
        // Weekdays at 22:00 for 3 days: Friday's would run into Monday's.
        let joined = #expect(throws: WindowError.self) { try MaintenanceWindow.recurrence(every: "0 22 * * 1-5", length: "3d", zone: nil, during: nil) }
        #expect(joined?.description.contains("would join them into one that never ends") == true, "\(String(describing: joined))")
        #expect(throws: WindowError.self) { try MaintenanceWindow.recurrence(every: "0 22 * * 5", length: "30s", zone: nil, during: nil) }
        #expect(throws: WindowError.self) { try MaintenanceWindow.recurrence(every: "0 22 * * 5", length: "2h", zone: "Mars/Olympus_Mons", during: nil) }
        // Such a window kept by an earlier version: one span, the starts that overlap joined, but bounded.
        let window = MaintenanceWindow(
            target: "all", recurrence: .cron(try CronExpression.parse("0 * * * *"), zone: TimeZone(identifier: "UTC")!, length: .seconds(5400)),
            reason: "r", by: "ops", createdAt: at("2026-10-01T00:00:00Z")
        )
        let span = try #require(window.interval(at: at("2026-10-02T10:10:00Z")))
        // The 09:00 start still covers 10:10 (until 10:30).
        #expect(span.start == at("2026-10-02T09:00:00Z"))
        #expect(span.end > at("2026-10-03T00:00:00Z") && span.end <= at("2026-10-05T12:00:00Z"))
    }

    // The market closes on Friday 2026-10-23 at 17:00 New York (21:00 UTC) and opens on Sunday at
    // 17:00 (21:00 UTC).
    @Test func aWeekendWindowRunsFromTheWeeklyCloseToTheOpen() {
        let window = MaintenanceWindow(target: "all", recurrence: .during(.weekend), reason: "r", by: "ops", createdAt: at("2026-10-01T00:00:00Z"))
        #expect(window.interval(at: at("2026-10-23T20:00:00Z")) == nil)
        #expect(window.interval(at: at("2026-10-24T12:00:00Z")) == DateInterval(start: at("2026-10-23T21:00:00Z"), end: at("2026-10-25T21:00:00Z")))
        #expect(window.nextStart(after: at("2026-10-21T00:00:00Z")) == at("2026-10-23T21:00:00Z"))
        // A holiday within the week closes the market, but is no weekend.
        let market = MarketCalendar(holidays: ["2026-10-28"])
        #expect(window.interval(at: at("2026-10-28T12:00:00Z"), market: market) == nil)
        #expect(window.nextStart(after: at("2026-10-26T00:00:00Z"), market: market) == at("2026-10-30T21:00:00Z"))
        let closed = MaintenanceWindow(target: "all", recurrence: .during(.closed), reason: "r", by: "ops", createdAt: at("2026-10-01T00:00:00Z"))
        #expect(closed.interval(at: at("2026-10-28T12:00:00Z"), market: market) == DateInterval(start: at("2026-10-27T21:00:00Z"), end: at("2026-10-28T21:00:00Z")))
        #expect(closed.nextStart(after: at("2026-10-26T00:00:00Z"), market: market) == at("2026-10-27T21:00:00Z"))
    }

    @Test func whatIsWrongIsSaid() {
        func problem(_ every: String?, _ length: String?, _ zone: String? = nil, during: String? = nil) -> String {
            do {
                _ = try MaintenanceWindow.recurrence(every: every, length: length, zone: zone, during: during)
                return ""
            } catch {
                return error.description
            }
        }
        #expect(problem("0 25 * * 5", "2h").contains("'25' is not a valid hour"))
        #expect(problem("0 22 * * 5", nil).contains("--every needs --for"))
        #expect(problem("0 22 * * 5", "2h", "Europe/Londn").contains("unknown time zone 'Europe/Londn'"))
        #expect(problem("0 22 * * 5", "2h", "Europe/Londn").contains("Europe/London"))
        #expect(problem(nil, nil, during: "weekends").contains("'weekends' is not a market span"))
        #expect(problem("0 22 * * 5", "soon").contains("--for soon is not a duration"))
        #expect(window(covers: "x"))
    }

    private func window(covers check: String) -> Bool {
        MaintenanceWindow(target: "all", recurrence: .during(.closed), reason: "", by: "", createdAt: Date()).covers(check)
    }
}
