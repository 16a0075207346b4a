import Foundation
import RunbookTestSupport
import Testing

@Suite struct RunCommandTests {
    @Test func aStepThatFailsThenSucceedsShowsTwoAttempts() throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        try cli.write("Runbooks/flaky.yaml", """
            name: flaky
            steps:
              - id: connect
                shell: test -f seen || { touch seen; echo "router not up yet"; exit 7; }
                retries: {count: 2, initial_delay: 50ms}
            """)
        let run = try cli.run("run", "flaky")
        #expect(run.status == 0)
        #expect(run.stdout.contains("connect: succeeded"))
        #expect(run.stdout.contains("after 2 attempts"))

        let show = try cli.run("show", "1", "--json").json
        #expect(show["status"] as? String == "succeeded")
        let steps = try #require(show["steps"] as? [[String: Any]])
        let attempts = try #require(steps.first?["attempts"] as? [[String: Any]])
        #expect(attempts.count == 2)
        #expect(attempts.map { $0["status"] as? String } == ["failed", "succeeded"])
        #expect(attempts.first?["exit_code"] as? Int == 7)
        #expect((attempts.first?["output"] as? String)?.contains("router not up yet") == true)
    }

    @Test func aTimeoutKillsTheCommandAndItsChildren() throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        try cli.write("Runbooks/hang.yaml", """
            name: hang
            steps:
              - id: stuck
                shell: {command: 'echo $$ > shell.pid; sleep 300 & echo $! > child.pid; sleep 300', stop_grace: 1s}
                timeout: 1s
            """)
        let started = ContinuousClock.now
        let run = try cli.run("run", "hang", "--json")
        #expect(run.status == 1)
        #expect(started.duration(to: .now) < .seconds(15))
        let steps = try #require(run.json["steps"] as? [[String: Any]])
        #expect(steps.first?["error"] as? String == "timed out after 1s")
        for file in ["shell.pid", "child.pid"] {
            let pid = Int32(try String(contentsOfFile: cli.path(file), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines))!
            #expect(!processIsRunning(pid), "\(file): process \(pid) still runs")
        }
    }

    @Test func killDashNineMarksTheRunInterruptedAtTheNextStart() async throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        try cli.write("Runbooks/paused.yaml", """
            name: paused
            steps:
              - id: before
                log: starting
              - id: pause
                wait: 60s
              - id: after
                log: never
            """)
        let started = try cli.start(["run", "paused"])
        let inFlight = try await eventually {
            let steps = try cli.run("show", "1", "--json").json["steps"] as? [[String: Any]] ?? []
            return steps.contains { $0["id"] as? String == "pause" && $0["status"] as? String == "running" }
        }
        #expect(inFlight)
        kill(started.0.processIdentifier, SIGKILL)
        started.0.waitUntilExit()

        let history = try cli.run("history", "--json").json["runs"] as? [[String: Any]] ?? []
        #expect(history.first?["status"] as? String == "interrupted")
        #expect((history.first?["error"] as? String)?.contains("while step 'pause' was in flight") == true)
        let steps = try cli.run("show", "1", "--json").json["steps"] as? [[String: Any]] ?? []
        #expect(steps.map { $0["status"] as? String } == ["succeeded", "interrupted"])
    }

    @Test func ctrlCCancelsTheRunAndItsCommand() async throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        try cli.write("Runbooks/long.yaml", """
            name: long
            steps:
              - id: nap
                shell: echo $$ > nap.pid; exec sleep 300
            """)
        let started = try cli.start(["run", "long"])
        #expect(await eventually { FileManager.default.fileExists(atPath: cli.path("nap.pid")) && (try? String(contentsOfFile: cli.path("nap.pid"), encoding: .utf8))?.isEmpty == false })
        try await Task.sleep(for: .milliseconds(100))
        kill(started.0.processIdentifier, SIGINT)
        let result = try cli.finish(started)
        #expect(result.status == 130)
        #expect(result.stderr.contains("SIGINT received"))
        let pid = Int32(try String(contentsOfFile: cli.path("nap.pid"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines))!
        #expect(await eventually(within: .seconds(5)) { !processIsRunning(pid) })
        let history = try cli.run("history", "--json").json["runs"] as? [[String: Any]] ?? []
        #expect(history.first?["status"] as? String == "cancelled")
    }

    @Test func runsStartedTogetherOnNewRecordsAllGetRecorded() throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        try cli.write("Runbooks/quick.yaml", "name: quick\nsteps:\n  - id: a\n    log: hi\n")
        let started = try (0..<6).map { _ in try cli.start(["run", "quick"]) }
        let results = try started.map { try cli.finish($0) }
        #expect(results.map(\.status) == Array(repeating: 0, count: 6), "\(results.map(\.stderr))")
        let runs = try cli.run("history", "--json").json["runs"] as? [[String: Any]] ?? []
        #expect(runs.count == 6)
        #expect(runs.allSatisfy { $0["status"] as? String == "succeeded" })
    }

    @Test func reviewingBeforeAnyRunCreatesNothing() throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        let history = try cli.run("history")
        #expect(history.status == 0)
        #expect(history.stdout.contains("no runs recorded"))
        #expect(try cli.run("show", "1").status == 2)
        #expect(!FileManager.default.fileExists(atPath: cli.path("var")))
    }

    @Test func aDryRunPrintsThePlanAndChangesNothing() throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        try cli.write("Runbooks/touchy.yaml", """
            name: touchy
            params:
              name: {type: string, default: marker}
            steps:
              - id: touch
                shell:
                  command: touch "$NAME"
                  env: {NAME: "${{ params.name }}"}
            """)
        let plan = try cli.run("run", "touchy", "--dry-run", "--param", "name=flag")
        #expect(plan.status == 0)
        #expect(plan.stdout.contains("1. touch [shell]: run `touch \"$NAME\"` with /bin/bash with NAME=flag"))
        #expect(!FileManager.default.fileExists(atPath: cli.path("flag")))
        #expect(!FileManager.default.fileExists(atPath: cli.path("var")), "a dry run created the records")
        #expect((try cli.run("history", "--json").json["runs"] as? [Any])?.isEmpty == true)
    }

    @Test func usageMistakesExitWithTwoAndSayWhatToDo() throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        try cli.write("Runbooks/one.yaml", "name: one\nparams:\n  count: {type: int, default: 1}\nsteps:\n  - id: a\n    log: hi\n")
        let unknown = try cli.run("run", "onr")
        #expect(unknown.status == 2)
        #expect(unknown.stderr.contains("no runbook named 'onr' (did you mean 'one'?)"))
        let param = try cli.run("run", "one", "--param", "count=many")
        #expect(param.status == 2)
        #expect(param.stderr.contains("parameter 'count' is 'many': give a whole number such as 3"))
        let status = try cli.run("history", "--status", "weird")
        #expect(status.status == 2)
        #expect(status.stderr.contains("--status 'weird' is not a run status"))
        let missing = try cli.run("show", "42")
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("no run 42"))
    }

    @Test func validateReportsEveryErrorWithItsPlace() throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        try cli.write("Runbooks/good.yaml", "name: good\nsteps:\n  - id: a\n    log: hi\n")
        #expect(try cli.run("validate").status == 0)
        try cli.write("Runbooks/bad.yaml", "name: bad\nsteps:\n  - id: a\n    wiat: 5s\n  - id: b\n    wait: soon\n")
        let result = try cli.run("validate")
        #expect(result.status == 2)
        let lines = result.stderr.split(separator: "\n").filter { $0.contains(": error: ") }
        #expect(lines.count == 2)
        #expect(lines.first?.hasPrefix("Runbooks/bad.yaml:4:5: error: unknown key 'wiat' in step 'a' (did you mean 'wait'?)") == true)
        #expect(lines.last?.hasPrefix("Runbooks/bad.yaml:6:11: error: 'soon' is not a duration") == true)
        #expect(result.stderr.contains("2 error(s) in 1 of 2 file(s)"))
    }

    @Test func theShippedRunbooksAreValid() throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        let result = try cli.run("validate", CLIHarness.shippedRunbooks.path)
        #expect(result.status == 0, "\(result.stderr)")
        let list = try cli.run("list", "--json", "--runbooks", CLIHarness.shippedRunbooks.path).json["runbooks"] as? [[String: Any]] ?? []
        #expect(Set(list.compactMap { $0["name"] as? String }).isSuperset(of: ["weekly-archive", "daily-backup"]))
    }
}
