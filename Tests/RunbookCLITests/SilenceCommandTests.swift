import Foundation
import Testing

/// `runbook silence` and `runbook silences` against a real records file: one-off silences,
/// maintenance windows by cron and by the market, their removal, and what a mistake is told.
@Suite struct SilenceCommandTests {
    @Test func windowsAreMadeListedAndRemoved() throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        try FileManager.default.createDirectory(atPath: cli.path("Checks"), withIntermediateDirectories: true)
        try cli.write("Checks/port.yaml", "name: port\nprobe: {port: 11999}\n")

        let weekly = try cli.run("silence", "port", "--every", "0 22 * * 5", "--for", "2h", "--tz", "Europe/London", "--reason", "broker maintenance", "--hold-runs", "--by", "alice")
        #expect(weekly.status == 0, "\(weekly.stderr)")
        #expect(weekly.stdout.contains("maintenance window 1: port every \"0 22 * * 5\""))
        #expect(weekly.stdout.contains("next starts ") && weekly.stdout.contains(" 22:00 Europe/London"))
        let weekend = try cli.run("silence", "all", "--during", "weekend", "--reason", "weekend", "--at-end", "drop")
        #expect(weekend.status == 0, "\(weekend.stderr)")
        let once = try cli.run("silence", "all", "--for", "1h", "--reason", "deploy")
        #expect(once.status == 0 && once.stdout.hasPrefix("all silenced until"), "\(once.stderr)")

        let listed = try cli.run("silences", "--json")
        #expect(listed.status == 0, "\(listed.stderr)")
        let windows = try #require(listed.json["windows"] as? [[String: Any]])
        #expect(windows.map { $0["target"] as? String } == ["port", "all"])
        #expect(windows[0]["cron"] as? String == "0 22 * * 5" && windows[0]["zone"] as? String == "Europe/London")
        #expect(windows[0]["hold_runs"] as? Bool == true && windows[0]["at_end"] as? String == "send" && windows[0]["by"] as? String == "alice (CLI)")
        #expect((windows[0]["next_start_local"] as? String)?.hasSuffix("22:00 Europe/London") == true)
        #expect(windows[0]["next_start"] is String)
        #expect(windows[1]["during"] as? String == "weekend" && windows[1]["at_end"] as? String == "drop")
        #expect((listed.json["silences"] as? [[String: Any]])?.map { $0["check"] as? String } == ["all"])
        let table = try cli.run("silences")
        #expect(table.stdout.contains("every \"0 22 * * 5\"") && table.stdout.contains("during the market's weekend"))

        #expect(try cli.run("silence", "--remove", "1").stdout.contains("maintenance window 1 removed"))
        #expect((try cli.run("silences", "--json").json["windows"] as? [[String: Any]])?.count == 1)
        let again = try cli.run("silence", "--remove", "1")
        #expect(again.status != 0 && again.stderr.contains("no maintenance window 1"))
    }

    @Test func mistakesAreNamed() throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        try FileManager.default.createDirectory(atPath: cli.path("Checks"), withIntermediateDirectories: true)
        try cli.write("Checks/port.yaml", "name: port\nprobe: {port: 11999}\n")
        func error(_ arguments: String...) throws -> String {
            let result = try cli.finish(try cli.start(arguments))
            #expect(result.status != 0, "\(arguments) succeeded")
            return result.stderr
        }
        #expect(try error("silence", "port", "--every", "0 25 * * 5", "--for", "2h", "--reason", "r").contains("'25' is not a valid hour"))
        #expect(try error("silence", "port", "--every", "0 22 * * 5", "--reason", "r").contains("--every needs --for"))
        #expect(try error("silence", "port", "--every", "0 22 * * 5", "--for", "2h", "--tz", "Europe/Londn", "--reason", "r").contains("unknown time zone 'Europe/Londn'"))
        #expect(try error("silence", "prot", "--every", "0 22 * * 5", "--for", "2h", "--reason", "r").contains("did you mean 'port'?"))
        #expect(try error("silence", "port", "--during", "holidays", "--reason", "r").contains("is not a market span"))
        #expect(try error("silence", "port", "--for", "2h", "--hold-runs", "--reason", "r").contains("belong to a maintenance window"))
    }
}
