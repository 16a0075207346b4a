import Clocks
import Foundation
import RunbookTestSupport
import RunbookModel
import RunbookSteps
import Testing

@Suite struct ShellStepTests {
    @Test func valuesArriveAsEnvironmentAndOutputsComeBack() async throws {
        let harness = try StepHarness()
        defer { harness.remove() }
        let shell = try harness.primitive("shell", """
            command: 'echo "target=$TARGET run=$RUNBOOK_RUN_ID"; echo "age=412" >> "$RUNBOOK_OUTPUT"; pwd'
            env: {TARGET: "ea-01; rm -rf /"}
            """)
        let result = try await shell.run(in: harness.context())
        let stdout = result.outputs["stdout"]?.text ?? ""
        #expect(stdout.hasPrefix("target=ea-01; rm -rf / run=1"))
        #expect(stdout.hasSuffix(harness.folder.path))
        #expect(result.outputs["age"] == .string("412"))
        #expect(result.exitCode == 0)
    }

    @Test func anUnexpectedExitCodeFailsWithTheOutput() async throws {
        let harness = try StepHarness()
        defer { harness.remove() }
        let shell = try harness.primitive("shell", "command: echo broken >&2; exit 3")
        let failure = await #expect(throws: StepFailure.self) { try await shell.run(in: harness.context()) }
        #expect(failure?.exitCode == 3)
        #expect(failure?.message == "command exited with 3 (expected 0)")
        #expect(failure?.output.contains("broken") == true)

        let tolerant = try harness.primitive("shell", "command: exit 3\nexpect_exit: [0, 3]")
        #expect(try await tolerant.run(in: harness.context()).exitCode == 3)
    }

    @Test func outputIsBoundedAndSaysWhatWasLeftOut() async throws {
        let harness = try StepHarness()
        defer { harness.remove() }
        let shell = try harness.primitive("shell", "command: head -c 1000000 /dev/zero | tr '\\\\0' x; echo END\noutput_limit: 1KB")
        let result = try await shell.run(in: harness.context())
        #expect(result.output.utf8.count < 1100)
        #expect(result.output.contains("bytes left out"))
        #expect(result.output.hasSuffix("END\n"))
    }

    @Test func cancellingStopsTheWholeProcessGroup() async throws {
        let harness = try StepHarness()
        defer { harness.remove() }
        let shell = try harness.primitive("shell", "command: sleep 300 & echo $! > child.pid; sleep 300\nstop_grace: 1s")
        let task = Task { try await shell.run(in: harness.context()) }
        let pidFile = harness.path("child.pid")
        while (try? String(contentsOfFile: pidFile, encoding: .utf8))?.isEmpty ?? true { try await Task.sleep(for: .milliseconds(20)) }
        let child = Int32(try String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines))!
        task.cancel()
        _ = await task.result
        #expect(await eventually(within: .seconds(3)) { !processIsRunning(child) }, "the background sleep \(child) survived")
    }
}

@Suite struct WaitStepTests {
    @Test func waitUsesTheRunClock() async throws {
        let harness = try StepHarness()
        defer { harness.remove() }
        let clock = ImmediateClock()
        let start = clock.now
        _ = try await harness.primitive("wait", "duration: 90m").run(in: harness.context(clock: clock))
        #expect(start.duration(to: clock.now) == .seconds(5400))
    }

    @Test func waitUntilPollsAPrimitiveUntilItSucceeds() async throws {
        let harness = try StepHarness()
        defer { harness.remove() }
        let clock = ImmediateClock()
        let step = try harness.primitive("wait_until", """
            until:
              shell: 'n=$(cat count 2>/dev/null || echo 0); n=$((n+1)); echo $n > count; [ $n -ge 3 ]'
            interval: 10s
            timeout: 5m
            """)
        let result = try await step.run(in: harness.context(clock: clock))
        #expect(result.outputs["attempts"] == .number(3))
        #expect(result.outputs["waited"] == .number(20))
    }

    @Test func waitUntilGivesUpAtItsTimeoutAndSaysWhy() async throws {
        let harness = try StepHarness()
        defer { harness.remove() }
        let step = try harness.primitive("wait_until", "until:\n  shell: exit 1\ninterval: 30s\ntimeout: 2m")
        let failure = await #expect(throws: StepFailure.self) { try await step.run(in: harness.context(clock: ImmediateClock())) }
        #expect(failure?.message.hasPrefix("still not done after 2m and 5 attempts: command exited with 1") == true)
    }

    @Test func theLastPollStartsAtTheTimeoutHoweverLongThePollsTake() async throws {
        let harness = try StepHarness()
        defer { harness.remove() }
        // Each poll takes 300 ms of the run's clock and never succeeds: polls start at 0, 5.3,
        // 10.6 and 15.9 s, and the fifth at 20 s, not one interval after the fourth.
        let step = try harness.primitive("wait_until", "until:\n  wait: 300ms\ncondition: run.trigger == 'never'\ninterval: 5s\ntimeout: 20s")
        let failure = await #expect(throws: StepFailure.self) { try await step.run(in: harness.context(clock: ImmediateClock(), values: ["run.trigger": .string("manual")])) }
        #expect(failure?.message.hasPrefix("still not done after 20s300ms and 5 attempts") == true, "\(String(describing: failure?.message))")
    }

    @Test func waitUntilPollsUntilAConditionHoldsOnThePolledOutputs() async throws {
        let harness = try StepHarness()
        defer { harness.remove() }
        let step = try harness.primitive("wait_until", """
            until:
              shell: 'n=$(cat count 2>/dev/null || echo 0); n=$((n+1)); echo $n > count; echo "ticks=$((n*10))" >> "$RUNBOOK_OUTPUT"'
            condition: poll.ticks >= 40
            interval: 5s
            timeout: 1m
            """)
        let result = try await step.run(in: harness.context(clock: ImmediateClock()))
        #expect(result.outputs["attempts"] == .number(4))
        #expect(result.outputs["ticks"] == .string("40"))
    }

    @Test func waitUntilEvaluatesAConditionAgainstTheRun() async throws {
        let harness = try StepHarness()
        defer { harness.remove() }
        let step = try harness.primitive("wait_until", "condition: run.trigger == 'check'\ninterval: 1s\ntimeout: 3s")
        let ready = try await step.run(in: harness.context(clock: ImmediateClock(), values: ["run.trigger": .string("check")]))
        #expect(ready.outputs["attempts"] == .number(1))
        await #expect(throws: StepFailure.self) {
            try await step.run(in: harness.context(clock: ImmediateClock(), values: ["run.trigger": .string("manual")]))
        }
    }
}

@Suite struct DirectCommandTests {
    @Test func plainWordsRunWithoutAShell() {
        let direct = ShellStep.directCommand("true", path: "/usr/bin:/bin")
        #expect(direct?.program.hasSuffix("/true") == true)
        #expect(direct?.arguments.isEmpty == true)
        #expect(ShellStep.directCommand("df -P /tmp", path: "/usr/bin:/bin")?.arguments == ["-P", "/tmp"])
    }

    @Test(arguments: ["echo $HOME", "exit 3", "ls | wc -l", "a && b", "cat 'x y'", "ls *.log", "X=1 env", "cd /tmp", "no-such-program-here", "sleep 1 &"])
    func anythingElseGoesThroughTheShell(command: String) {
        #expect(ShellStep.directCommand(command, path: "/usr/bin:/bin") == nil)
    }

    @Test func aDirectCommandStillGetsTheStepEnvironment() async throws {
        let harness = try StepHarness()
        defer { harness.remove() }
        let result = try await harness.primitive("shell", "command: env\nenv: {TARGET: ea-01}").run(in: harness.context())
        let lines = result.outputs["stdout"]?.text.split(separator: "\n").map(String.init) ?? []
        #expect(lines.contains("TARGET=ea-01"))
        #expect(lines.contains("RUNBOOK_RUN_ID=1"))
    }
}
