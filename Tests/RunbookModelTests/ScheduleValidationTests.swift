import Foundation
import RunbookApp
import RunbookModel
import Testing

@Suite struct CronParsingTests {
    @Test(arguments: [
        ("0 0 30 2 *", 4, "'0 0 30 2 *' never fires: February has no day 30"),
        ("0 0 31 4,JUN *", 4, "none of April, June has a day 31"),
        ("60 * * * *", 0, "'60' is not a valid minute: write a number from 0 to 59"),
        ("* * * * MOM", 8, "'MOM' is not a valid day of week (did you mean 'MON'?)"),
        ("* * * FEBR *", 6, "'FEBR' is not a valid month (did you mean 'FEB'?)"),
        ("*/0 * * * *", 2, "'0' is not a step for the minute field"),
        ("0 0 * */13 *", 8, "'13' is not a step for the month field: write a whole number from 1 to 12, as in */3"),
        ("0 */24 * * *", 4, "'24' is not a step for the hour field: write a whole number from 1 to 23, as in */6"),
        ("0 17-9 * * *", 2, "the range 17-9 in the hour field runs backwards"),
        ("0 0 1,,2 * *", 6, "empty value in the day of month field"),
        ("0 0 * *", 0, "a cron expression has 5 fields (minute hour day-of-month month day-of-week), this has 4"),
        ("0 0 * * * *", 10, "this has 6"),
        ("@dayly", 0, "unknown cron shorthand '@dayly' (did you mean '@daily'?)"),
        ("0 0 0 * *", 4, "'0' is not a valid day of month: write a number from 1 to 31"),
        ("0 0 * * 7/2", 8, "'7/2' selects no day of week"),
    ])
    func mistakesNameTheirFieldAndColumn(expression: String, offset: Int, message: String) {
        #expect {
            try CronExpression.parse(expression)
        } throws: { error in
            guard let error = error as? CronExpression.ParseError else { return false }
            return error.offset == offset && error.message.contains(message)
        }
    }

    @Test func februaryTwentyNinthAndEitherDayRuleAreNotImpossible() throws {
        _ = try CronExpression.parse("0 0 29 2 *")
        // February 30th or any Monday: the Mondays fire.
        _ = try CronExpression.parse("0 0 30 2 MON")
    }
}

@Suite struct ScheduleValidationTests {
    func diagnostics(_ text: String) -> [String] {
        ScheduleLoader.read(text: text, file: "Schedules/s.yaml").1.map { "\($0.location.line):\($0.location.column): \($0.message)" }
    }

    @Test func aCronScheduleLoadsWithItsPolicies() throws {
        let schedule = try ScheduleLoader.load(text: """
            name: nightly
            runbook: compression-policy
            params: {keep_for: 30d}
            cron: "30 2 * * *"
            time_zone: Europe/London
            catch_up: all
            catch_up_window: 6h
            overlap: queue
            jitter: 30s
            """, file: "nightly.yaml")
        #expect(schedule.runbook == "compression-policy")
        #expect(schedule.params == ["keep_for": "30d"])
        #expect(schedule.timeZone.identifier == "Europe/London")
        #expect(schedule.catchUp == .all && schedule.catchUpWindow == .seconds(6 * 3600))
        #expect(schedule.overlap == .queue && schedule.jitter == .seconds(30))
        #expect(schedule.whenText == "30 2 * * * (Europe/London)")
    }

    @Test func defaultsAreUTCLatestWithinAnHourAndSkip() throws {
        let schedule = try ScheduleLoader.load(text: "name: a\nrunbook: b\ncron: '0 * * * *'\n", file: "a.yaml")
        #expect(schedule.timeZone.secondsFromGMT(for: Date()) == 0)
        #expect(schedule.catchUp == .latest && schedule.catchUpWindow == .seconds(3600) && schedule.overlap == .skip && schedule.jitter == .zero)
    }

    @Test func aMarketScheduleIsRelativeToTheOpenOrClose() throws {
        let before = try ScheduleLoader.load(text: "name: a\nrunbook: b\nmarket: forex\nbefore_open: 15m\n", file: "a.yaml")
        #expect(before.timing == .market(MarketTime(anchor: .open, offset: .seconds(-900))))
        #expect(before.whenText == "15m before the forex open")
        let after = try ScheduleLoader.load(text: "name: a\nrunbook: b\nmarket: forex\nafter_close: 30m\n", file: "a.yaml")
        #expect(after.timing == .market(MarketTime(anchor: .close, offset: .seconds(1800))))
    }

    @Test func anImpossibleCronIsAnErrorAtItsDayField() {
        #expect(diagnostics("name: a\nrunbook: b\ncron: \"0 0 30 2 *\"\n") == [
            "3:12: '0 0 30 2 *' never fires: February has no day 30; choose days that exist in the months given",
        ])
    }

    @Test func everyMistakeIsReportedWithLineAndColumn() {
        let found = diagnostics("""
            name: Nightly
            runbok: b
            cron: "0 25 * * *"
            time_zone: Europe/Lodnon
            catch_up: lastest
            overlap: wait
            jitter: soon
            during: weekdays
            """)
        #expect(found == [
            "1:1: the schedule has no runbook: add `runbook: NAME, the runbook it starts`",
            "1:7: name 'Nightly' may use lower-case letters, digits, '-' and '_' only",
            "2:1: unknown key 'runbok' in the schedule (did you mean 'runbook'?); allowed: name, description, runbook, params, cron, every, time_zone, market, before_open, after_open, before_close, after_close, during, catch_up, catch_up_window, overlap, jitter",
            "3:10: '25' is not a valid hour: write a number from 0 to 23, as in 9, 9-17 or */2",
            "4:12: unknown time zone 'Europe/Lodnon': write an IANA name such as UTC, Europe/London or America/New_York",
            "5:11: unknown catch_up 'lastest' (did you mean 'latest'?); use one of none, latest, all",
            "6:10: unknown overlap 'wait'; use one of skip, queue, replace",
            "7:9: 'soon' is not a duration for jitter: write it like 30s, 5m, 1h30m or 7d",
            "8:9: unknown during 'weekdays': write `during: market` to fire only while the forex market is open",
        ])
    }

    @Test func whenMustBeSaidOnceAndInOneWay() {
        #expect(diagnostics("name: a\nrunbook: b\n") == [
            "1:1: the schedule does not say when: add `cron: \"0 * * * *\"` (with time_zone), `every: 30s`, or `market: forex` with before_open: 15m",
        ])
        #expect(diagnostics("name: a\nrunbook: b\ncron: '0 * * * *'\nmarket: forex\n") == ["4:1: a schedule has cron or market, not both: keep one"])
        #expect(diagnostics("name: a\nrunbook: b\nmarket: nyse\nbefore_open: 5m\nafter_close: 5m\ntime_zone: UTC\n") == [
            "3:9: unknown market 'nyse': the engine knows forex (Sunday 17:00 to Friday 17:00 New York)",
            "5:1: a market schedule takes one of before_open, after_open, before_close, after_close: keep before_open or after_close",
            "6:1: a market schedule follows New York time, the market's: remove time_zone (it is for cron)",
        ])
        #expect(diagnostics("name: a\nrunbook: b\nmarket: forex\n") == [
            "3:9: a market schedule needs one of before_open, after_open, before_close, after_close, such as before_open: 15m",
        ])
        #expect(diagnostics("name: a\nrunbook: b\ncron: '0 * * * *'\nbefore_open: 5m\n") == [
            "4:1: before_open is for market schedules: remove it, or use `market: forex` instead of cron",
        ])
    }

    @Test func parametersAreCheckedAgainstTheRunbookWhenItExists() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("schedules-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("Runbooks"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("Schedules"), withIntermediateDirectories: true)
        try "name: backup\nparams:\n  keep: {type: int, default: 7}\nsteps:\n  - id: a\n    log: hi\n"
            .write(to: folder.appendingPathComponent("Runbooks/backup.yaml"), atomically: true, encoding: .utf8)
        try "name: typed\nrunbook: backup\nparams: {keep: many}\ncron: '@daily'\n"
            .write(to: folder.appendingPathComponent("Schedules/typed.yaml"), atomically: true, encoding: .utf8)
        try "name: unknown\nrunbook: backup\nparams: {kept: 3}\ncron: '@daily'\n"
            .write(to: folder.appendingPathComponent("Schedules/unknown.yaml"), atomically: true, encoding: .utf8)
        try "name: later\nrunbook: not-written-yet\ncron: '@daily'\n"
            .write(to: folder.appendingPathComponent("Schedules/later.yaml"), atomically: true, encoding: .utf8)
        let runbooks = RunbookLibrary.load(paths: [folder.appendingPathComponent("Runbooks").path], loader: RunbookLoader(catalog: Catalog.steps))
        let schedules = ScheduleLibrary.load(paths: [folder.appendingPathComponent("Schedules").path])
        #expect(schedules.diagnostics.isEmpty)
        #expect(schedules.sorted.map(\.name) == ["later", "typed", "unknown"])
        let problems = schedules.problems(against: runbooks).map { "\(URL(fileURLWithPath: $0.location.file).lastPathComponent):\($0.location.line):\($0.location.column): \($0.message)" }
        #expect(problems == [
            "typed.yaml:3:9: parameter 'keep' is 'many': give a whole number such as 3",
            "unknown.yaml:3:9: runbook 'backup' has no parameter 'kept' (did you mean 'keep'?); it takes keep",
        ])
    }

    @Test func twoSchedulesMayNotShareAName() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("schedules-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for file in ["a.yaml", "b.yaml"] {
            try "name: same\nrunbook: x\ncron: '@daily'\n".write(to: folder.appendingPathComponent(file), atomically: true, encoding: .utf8)
        }
        let schedules = ScheduleLibrary.load(paths: [folder.path])
        #expect(schedules.diagnostics.map(\.message) == ["schedule name 'same' is already used by \(folder.appendingPathComponent("a.yaml").path): rename one of them"])
    }
}
