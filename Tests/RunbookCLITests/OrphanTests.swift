import Foundation
import RunbookTestSupport
import Testing

/// No process a shell step starts outlives its step, nor the runbook process, even killed with -9.
@Suite struct OrphanTests {
    func pid(_ cli: CLIHarness, _ file: String) -> Int32? {
        (try? String(contentsOfFile: cli.path(file), encoding: .utf8)).flatMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }

    @Test func killDashNineOfTheRunKillsItsCommandsAndWhatTheyStarted() async throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        try cli.write("Runbooks/nap.yaml", """
            name: nap
            steps:
              - id: nap
                shell: 'sleep 300 & echo $! > background.pid; echo $$ > shell.pid; sleep 300'
            """)
        let started = try cli.start(["run", "nap"])
        #expect(await eventually { pid(cli, "shell.pid") != nil && pid(cli, "background.pid") != nil })
        let shell = try #require(pid(cli, "shell.pid"))
        let background = try #require(pid(cli, "background.pid"))
        #expect(processIsRunning(shell) && processIsRunning(background))

        kill(started.0.processIdentifier, SIGKILL)
        started.0.waitUntilExit()
        #expect(await eventually { !processIsRunning(shell) }, "the step's shell \(shell) outlived the run")
        #expect(await eventually { !processIsRunning(background) }, "the step's background sleep \(background) outlived the run")
    }

    @Test func whatACommandLeavesRunningEndsWithItsStep() async throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        // The first leaves a sleep with its output elsewhere; the second one that holds the
        // step's output open, which would keep the step waiting until its timeout.
        try cli.write("Runbooks/leave.yaml", """
            name: leave
            steps:
              - id: quiet
                shell: 'sleep 300 > /dev/null 2>&1 & echo $! > quiet.pid'
              - id: holding
                shell: 'sleep 300 & echo $! > holding.pid; echo started'
                timeout: 60s
            """)
        let run = try cli.run("run", "leave", "--json")
        #expect(run.status == 0, "\(run.stderr)")
        let steps = try #require(run.json["steps"] as? [[String: Any]])
        #expect(steps.map { $0["status"] as? String } == ["succeeded", "succeeded"])
        for file in ["quiet.pid", "holding.pid"] {
            let left = try #require(pid(cli, file))
            #expect(await eventually { !processIsRunning(left) }, "\(file): \(left) outlived its step")
        }
    }
}
