import Foundation
import Testing

@Suite struct ScheduleCommandTests {
    @Test func nextPrintsFireInstantsWithTheOffsetOfTheZone() throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        let next = try cli.run("schedule", "next", "30 2 * * *", "--tz", "America/New_York", "--from", "2026-03-07T00:00:00-05:00", "--count", "3")
        #expect(next.status == 0, "\(next.stderr)")
        #expect(next.stdout == "2026-03-07T02:30:00-05:00\n2026-03-08T03:00:00-04:00\n2026-03-09T02:30:00-04:00\n")

        let json = try cli.run("schedule", "next", "0 9 * * MON-FRI", "--from", "2026-01-02T10:00:00Z", "--count", "2", "--json").json
        #expect(json["time_zone"] as? String == "UTC")
        #expect((json["fires"] as? [[String: String]])?.map { $0["utc"] } == ["2026-01-05T09:00:00Z", "2026-01-06T09:00:00Z"])
    }

    @Test func nextOfAScheduleUsesItsZoneAndTheMarket() throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        try cli.write("Schedules/pre-market-check.yaml", "name: pre-market-check\nrunbook: pre-market-check\nmarket: forex\nbefore_open: 15m\n")
        let next = try cli.run("schedule", "next", "pre-market-check", "--from", "2026-10-30T12:00:00Z", "--count", "2")
        #expect(next.stdout == "2026-11-01T16:45:00-05:00\n2026-11-08T16:45:00-05:00\n", "\(next.stderr)")
        let tz = try cli.run("schedule", "next", "pre-market-check", "--tz", "UTC")
        #expect(tz.status == 2)
        #expect(tz.stderr.contains("--tz UTC is for a cron expression; schedule 'pre-market-check' has its zone, America/New_York"))
        let unknown = try cli.run("schedule", "next", "pre-market-chek")
        #expect(unknown.status == 2)
        #expect(unknown.stderr.contains("no schedule named 'pre-market-chek' (did you mean 'pre-market-check'?)"))
    }

    @Test func anImpossibleExpressionIsAUsageErrorPointingAtItsField() throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        let next = try cli.run("schedule", "next", "0 0 30 2 *")
        #expect(next.status == 2)
        #expect(next.stdout.isEmpty)
        #expect(next.stderr == "error: '0 0 30 2 *' never fires: February has no day 30; choose days that exist in the months given\n  0 0 30 2 *\n      ^\n")
    }

    @Test func listShowsEachScheduleWithItsRunbookAndNextFire() throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        try cli.write("Runbooks/backup.yaml", "name: backup\nparams:\n  token: {secret: true, default: none}\nsteps:\n  - id: a\n    log: hi\n")
        try cli.write("Schedules/nightly.yaml", "name: nightly\nrunbook: backup\nparams: {token: hunter2}\ncron: '30 2 * * *'\ntime_zone: Europe/London\n")
        try cli.write("Schedules/report.yaml", "name: report\nrunbook: hourly-report\ncron: '0 * * * *'\nduring: market\n")
        try cli.write("Schedules/broken.yaml", "name: broken\nrunbook: backup\ncron: '0 0 31 4 *'\n")
        let list = try cli.run("schedule", "list")
        #expect(list.status == 0)
        let lines = list.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix("SCHEDULE  RUNBOOK") == true)
        #expect(lines.dropFirst().map { $0.split(separator: " ").prefix(2).joined(separator: " ") } == ["nightly backup", "report hourly-report"])
        #expect(lines.last?.contains("hourly-report (missing)") == true)
        #expect(list.stderr.contains("1 file(s) have errors and are not listed"))

        let json = try cli.run("schedule", "list", "--json").json
        let schedules = try #require(json["schedules"] as? [[String: Any]])
        #expect(schedules.map { $0["runbook_state"] as? String } == ["ok", "missing"])
        #expect(schedules.first?["time_zone"] as? String == "Europe/London")
        #expect((schedules.first?["next"] as? [[String: String]])?.count == 3)
        #expect(schedules.first?["last_run"] is NSNull)
        #expect(schedules.first?["params"] as? [String: String] == ["token": "***"])
        #expect(json["invalid_files"] as? [String] == ["Schedules/broken.yaml"])
    }

    @Test func theShippedSchedulesAreValidAndNameTheShippedRunbooks() throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        let shipped = CLIHarness.shippedRunbooks.deletingLastPathComponent()
        try FileManager.default.removeItem(at: cli.folder.appendingPathComponent("Runbooks"))
        for folder in ["Runbooks", "Schedules"] {
            try FileManager.default.copyItem(at: shipped.appendingPathComponent(folder), to: cli.folder.appendingPathComponent(folder))
        }
        let validate = try cli.run("validate")
        #expect(validate.status == 0, "\(validate.stderr)")
        let schedules = try cli.run("schedule", "list", "--json").json["schedules"] as? [[String: Any]] ?? []
        let states = Dictionary(uniqueKeysWithValues: schedules.map { ($0["name"] as? String ?? "", $0["runbook_state"] as? String ?? "") })
        #expect(states == [
            "compression-policy": "ok", "daily-backup": "ok", "hourly-report": "ok", "pre-market-check": "ok", "weekly-archive": "ok",
        ])
        let premarket = try cli.run("schedule", "next", "pre-market-check", "--from", "2026-03-01T00:00:00Z", "--count", "2")
        #expect(premarket.stdout == "2026-03-01T16:45:00-05:00\n2026-03-08T16:45:00-04:00\n")
        let archive = try cli.run("schedule", "next", "weekly-archive", "--from", "2026-03-01T00:00:00Z", "--count", "1")
        #expect(archive.stdout == "2026-03-07T06:00:00-05:00\n")
    }

    @Test func validateChecksSchedulesWithFileLineAndColumn() throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        try cli.write("Runbooks/backup.yaml", "name: backup\nparams:\n  keep: {type: int, default: 7}\nsteps:\n  - id: a\n    log: hi\n")
        try cli.write("Schedules/nightly.yaml", "name: nightly\nrunbook: backup\ncron: '30 2 * * *'\n")
        #expect(try cli.run("validate").stdout == "2 file(s) checked, no errors\n")
        try cli.write("Schedules/feb.yaml", "name: feb\nrunbook: backup\ncron: \"0 0 30 2 *\"\n")
        try cli.write("Schedules/typed.yaml", "name: typed\nrunbook: backup\nparams: {keep: lots}\ncron: '@daily'\n")
        let all = try cli.run("validate")
        #expect(all.status == 2)
        #expect(all.stderr.contains("Schedules/feb.yaml:3:12: error: '0 0 30 2 *' never fires: February has no day 30"), "\(all.stderr)")
        #expect(all.stderr.contains("Schedules/typed.yaml:3:9: error: parameter 'keep' is 'lots': give a whole number"), "\(all.stderr)")
        #expect(all.stderr.contains("2 error(s) in 2 of 4 file(s)"), "\(all.stderr)")
        // A file named on the command line is read as a schedule when it is in the schedules folder.
        let one = try cli.run("validate", "Schedules/feb.yaml", "--json").json
        #expect(one["files"] as? Int == 1)
        #expect((one["errors"] as? [[String: Any]])?.map { "\($0["line"]!):\($0["column"]!)" } == ["3:12"])
    }
}
