import Foundation
import RunbookApp
import RunbookModel
import Testing

@Suite struct MarketCalendarTests {
    static func instant(_ text: String) -> Date {
        ISO8601DateFormatter().date(from: text)!
    }

    @Test(arguments: [
        // Winter (EST, UTC-5): Friday 17:00 New York is 22:00 UTC.
        ("2026-01-09T21:59:59Z", true), ("2026-01-09T22:00:00Z", false), ("2026-01-11T21:59:59Z", false), ("2026-01-11T22:00:00Z", true),
        // Summer (EDT, UTC-4): the same close an hour earlier in UTC.
        ("2026-07-10T20:59:59Z", true), ("2026-07-10T21:00:00Z", false), ("2026-07-12T21:00:00Z", true),
        // Wednesday's roll does not close the market.
        ("2026-07-15T21:00:00Z", true), ("2026-07-18T12:00:00Z", false),
    ])
    func forexTradesFromSundayToFridayAtFivePMNewYork(instant: String, open: Bool) {
        #expect(MarketCalendar().isOpen(at: Self.instant(instant)) == open)
    }

    @Test func opensAndClosesFollowNewYorkAcrossItsDaylightSavingChanges() {
        let market = MarketCalendar()
        // New York springs forward on Sunday 2026-03-08 at 02:00, before that day's 17:00 open.
        #expect(market.nextOpen(after: Self.instant("2026-03-06T12:00:00Z")) == Self.instant("2026-03-08T21:00:00Z"))
        #expect(market.nextClose(after: Self.instant("2026-03-04T12:00:00Z")) == Self.instant("2026-03-06T22:00:00Z"))
        // And falls back on Sunday 2026-11-01.
        #expect(market.nextOpen(after: Self.instant("2026-10-31T12:00:00Z")) == Self.instant("2026-11-01T22:00:00Z"))
        #expect(market.nextClose(after: Self.instant("2026-10-26T12:00:00Z")) == Self.instant("2026-10-30T21:00:00Z"))
        // Europe's change a week earlier (2026-10-25) changes nothing here.
        #expect(market.nextOpen(after: Self.instant("2026-10-24T12:00:00Z")) == Self.instant("2026-10-25T21:00:00Z"))
    }

    @Test func aHolidayRemovesItsTradingDay() {
        // Christmas 2026 is a Friday: the week closes Thursday 17:00, and the day stays shut.
        let market = MarketCalendar(holidays: ["2026-12-25"])
        #expect(market.nextClose(after: Self.instant("2026-12-21T12:00:00Z")) == Self.instant("2026-12-24T22:00:00Z"))
        #expect(!market.isOpen(at: Self.instant("2026-12-25T12:00:00Z")))
        #expect(MarketCalendar().isOpen(at: Self.instant("2026-12-25T12:00:00Z")))
        // A Monday holiday opens the week on Monday evening.
        let monday = MarketCalendar(holidays: ["2027-01-04"])
        #expect(monday.nextOpen(after: Self.instant("2027-01-02T12:00:00Z")) == Self.instant("2027-01-04T22:00:00Z"))
    }

    @Test func holidaysInTheConfigurationAreCheckedDates() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("market-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("runbook.yaml").path
        try "market:\n  holidays: [2026-12-25, 2026-02-30]\n".write(toFile: file, atomically: true, encoding: .utf8)
        #expect {
            try EngineConfig.load(path: file, environment: [:], channels: Catalog.channels)
        } throws: { error in
            let diagnostics = (error as? ValidationFailure)?.diagnostics ?? []
            return diagnostics.count == 1 && diagnostics[0].location.line == 2 && diagnostics[0].location.column == 26
                && diagnostics[0].message.contains("YYYY-MM-DD")
        }
        try "market:\n  holidays: [2026-12-25]\n".write(toFile: file, atomically: true, encoding: .utf8)
        #expect(try EngineConfig.load(path: file, environment: [:], channels: Catalog.channels).market.holidays == ["2026-12-25"])
    }
}
