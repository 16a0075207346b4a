import Clocks
import Logging
import Foundation
import RunbookTestSupport
import RunbookExecutor
import RunbookModel
import RunbookSQLite
import Testing

@Suite struct ExecutorTests {
    @Test func retriesBackOffExponentiallyOnTheRunClock() async throws {
        var harness = try ExecutorHarness()
        defer { harness.remove() }
        try harness.add("""
            name: flaky
            steps:
              - id: connect
                shell: 'n=$(cat tries 2>/dev/null || echo 0); echo $((n+1)) > tries; [ $n -ge 3 ]'
                retries: {count: 5, initial_delay: 2s, max_delay: 5s}
            """)
        let clock = ImmediateClock()
        let start = clock.now
        let report = try await harness.run("flaky", clock: clock)
        #expect(report.status == .succeeded)
        #expect(report.steps[0].attempts == 4)
        // Waits of 2s, 4s, then 5s (capped) before attempts 2, 3 and 4.
        #expect(start.duration(to: clock.now) == .seconds(11))
        let attempts = try await harness.records.runs.attempts(runID: report.runID)
        #expect(attempts.map(\.status) == ["failed", "failed", "failed", "succeeded"])
        #expect(attempts.map(\.exitCode) == [1, 1, 1, 0])
    }

    @Test func aTimeoutStopsTheStepOnTheRunClock() async throws {
        var harness = try ExecutorHarness()
        defer { harness.remove() }
        try harness.add("""
            name: slow
            steps:
              - id: hang
                wait: 10m
                timeout: 30s
            """)
        let clock = TestClock()
        let ready = harness
        let run = Task { try await ready.run("slow", clock: clock) }
        var advanced = Duration.zero
        while advanced < .seconds(600) {
            await clock.advance(by: .seconds(1))
            advanced += .seconds(1)
            if let record = try await harness.records.runs.runs().first, record.status != "running" { break }
        }
        let report = try await run.value
        #expect(report.status == .failed)
        #expect(report.steps[0].error == "timed out after 30s")
        #expect(advanced < .seconds(60))
    }

    @Test func failurePoliciesDecideWhatTheRunDoes() async throws {
        var harness = try ExecutorHarness()
        defer { harness.remove() }
        try harness.add("""
            name: recover
            steps:
              - id: restart
                shell: echo restarted
            """)
        try harness.add("""
            name: policies
            params:
              policy: {type: string, default: continue}
            steps:
              - id: tolerated
                shell: exit 4
                on_failure: continue
              - id: after
                shell: echo still here
              - id: escalated
                when: params.policy == 'escalate'
                shell: exit 5
                on_failure: {escalate: 3}
              - id: recovered
                when: params.policy == 'recover'
                shell: exit 6
                on_failure: {run: recover}
            """)
        let tolerant = try await harness.run("policies")
        #expect(tolerant.status == .succeeded)
        #expect(tolerant.steps.map(\.status) == [.failed, .succeeded, .skipped, .skipped])

        let escalated = try await harness.run("policies", params: ["policy": "escalate"])
        #expect(escalated.status == .failed)
        #expect(escalated.escalationLevel == 3)
        #expect(try await harness.records.runs.run(id: escalated.runID)?.escalationLevel == 3)

        let recovered = try await harness.run("policies", params: ["policy": "recover"])
        #expect(recovered.status == .failed)
        #expect(recovered.error?.contains("recovery runbook 'recover' succeeded") == true)
        let children = try await harness.records.runs.children(of: recovered.runID)
        #expect(children.map(\.runbook) == ["recover"])
        #expect(children.map(\.trigger) == ["runbook"])
    }

    @Test func outputsFlowIntoLaterStepsAndConditions() async throws {
        var harness = try ExecutorHarness()
        defer { harness.remove() }
        try harness.add("""
            name: flow
            params:
              limit: {type: duration, default: 5m}
            steps:
              - id: check_age
                shell: echo "age=412" >> "$RUNBOOK_OUTPUT"
                outputs: [age]
              - id: stale
                when: steps.check_age.outputs.age > params.limit
                shell:
                  command: echo "EA is $AGE seconds old"
                  env: {AGE: "${{ steps.check_age.outputs.age }}"}
              - id: fresh
                when: steps.check_age.outputs.age <= params.limit
                log: fresh
            """)
        let report = try await harness.run("flow")
        #expect(report.steps.map(\.status) == [.succeeded, .succeeded, .skipped])
        let attempts = try await harness.records.runs.attempts(runID: report.runID)
        #expect(attempts.first { $0.stepId == "stale" }?.output == "EA is 412 seconds old\n")
        #expect(attempts.first { $0.stepId == "fresh" }?.status == "skipped")
    }

    @Test func secretsNeverReachTheRecords() async throws {
        var harness = try ExecutorHarness()
        defer { harness.remove() }
        try harness.add("""
            name: secretive
            params:
              token: {type: string, secret: true}
            steps:
              - id: leak
                shell:
                  command: echo "token is $TOKEN"; echo "$TOKEN" >&2; exit 1
                  env: {TOKEN: "${{ params.token }}"}
            """)
        let report = try await harness.run("secretive", params: ["token": "hunter2-very-secret"])
        #expect(report.status == .failed)
        let run = try #require(try await harness.records.runs.run(id: report.runID))
        let attempts = try await harness.records.runs.attempts(runID: report.runID)
        let everything = [run.params, run.error ?? ""] + attempts.flatMap { [$0.output, $0.error ?? ""] }
        #expect(!everything.joined().contains("hunter2"))
        #expect(attempts[0].output.contains("token is ***"))
        #expect(run.parameters["token"] == "***")
    }

    @Test func aStepIsRecordedBeforeItActs() async throws {
        var harness = try ExecutorHarness()
        defer { harness.remove() }
        try harness.add("""
            name: ordered
            steps:
              - id: act
                shell: touch acted
            """)
        let spy = SpyRecorder(records: harness.records, marker: harness.path("acted"))
        let runbook = harness.runbooks["ordered"]!
        _ = await harness.executor(recorder: spy).run(runbook, params: [:], trigger: .manual)
        #expect(spy.markerExistedAtStart == [false])
        #expect(FileManager.default.fileExists(atPath: harness.path("acted")))
    }

    @Test func cancellingARunStopsItsStepAndRecordsCancelled() async throws {
        var harness = try ExecutorHarness()
        defer { harness.remove() }
        try harness.add("""
            name: long
            steps:
              - id: sleepy
                shell: {command: sleep 120, stop_grace: 1s}
              - id: never
                log: not reached
            """)
        let ready = harness
        let run = Task { try await ready.run("long") }
        while true {
            if let first = try await harness.records.runs.runs().first, try await !harness.records.runs.attempts(runID: first.id).isEmpty { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        run.cancel()
        let report = try await run.value
        #expect(report.status == .cancelled)
        #expect(report.steps.map(\.status) == [.cancelled])
        #expect(try await harness.records.runs.runs().first?.status == "cancelled")
    }

    @Test func aLaunchedRunIsKeyedUntilItEndsAndRecordsWhatStartedIt() async throws {
        var harness = try ExecutorHarness()
        defer { harness.remove() }
        try harness.add("""
            name: long
            steps:
              - id: sleepy
                shell: {command: sleep 120, stop_grace: 1s}
            """)
        let launcher = RunLauncher(executor: harness.executor())
        let due = Date(timeIntervalSince1970: 1_790_000_000)
        let run = try launcher.start("long", trigger: .schedule, origin: RunOrigin(source: "nightly", dueAt: due), key: "nightly")
        #expect(launcher.running("nightly").count == 1)
        #expect(launcher.runningKeys == ["nightly"])
        #expect(throws: RunLauncher.Refused.self) { try launcher.start("missing", trigger: .check) }
        #expect(try await eventually { try await harness.records.runs.runs().first?.status == "running" })
        run.cancel()
        #expect(await run.report.status == .cancelled)
        #expect(await eventually { launcher.running("nightly").isEmpty })
        let record = try #require(try await harness.records.runs.runs().first)
        #expect(record.trigger == "schedule")
        #expect(record.triggerSource == "nightly")
        #expect(record.dueAt == due)
    }

    @Test func aDryRunPlanChangesNothing() async throws {
        var harness = try ExecutorHarness()
        defer { harness.remove() }
        let runbook = try harness.add("""
            name: plan
            params:
              target: {type: string, default: ea-01}
            steps:
              - id: touch
                shell:
                  command: touch "$FILE"
                  env: {FILE: "${{ params.target }}.marker"}
            """)
        let plan = harness.executor().plan(runbook, params: try ParamBinding.bind([:], to: runbook))
        #expect(plan[0].action.contains("FILE=ea-01.marker"))
        #expect(!FileManager.default.fileExists(atPath: harness.path("ea-01.marker")))
        #expect(try await harness.records.runs.runs().isEmpty)
    }
}

/// Records as usual, and notes whether a marker file existed when each attempt was recorded.
final class SpyRecorder: RunRecorder, @unchecked Sendable {
    let records: RecordsDatabase
    let marker: String
    private(set) var markerExistedAtStart: [Bool] = []

    init(records: RecordsDatabase, marker: String) {
        self.records = records
        self.marker = marker
    }

    func startRun(_ start: RunStart) async throws -> Int64 { try await records.runs.startRun(start) }
    func startAttempt(_ attempt: AttemptStart, completing previous: FinishedAttempt?) async throws -> Int64 {
        markerExistedAtStart.append(FileManager.default.fileExists(atPath: marker))
        return try await records.runs.startAttempt(attempt, completing: previous)
    }
    func finishAttempt(_ finished: FinishedAttempt) async throws { try await records.runs.finishAttempt(finished) }
    func finishRun(_ id: Int64, _ outcome: RunOutcome, completing previous: FinishedAttempt?) async throws {
        try await records.runs.finishRun(id, outcome, completing: previous)
    }
}

@Suite struct ExecutorRecordingTests {
    @Test func secretsNeverReachTheLog() async throws {
        var harness = try ExecutorHarness()
        defer { harness.remove() }
        let runbook = try harness.add("""
            name: chatty
            params:
              token: {type: string, secret: true}
            steps:
              - id: say
                log: "using token ${{ params.token }}"
            """)
        let captured = CapturedLog()
        var executor = harness.executor()
        executor.logger = Logger(label: "test") { _ in captured }
        _ = await executor.run(runbook, params: try ParamBinding.bind(["token": "hunter2-secret"], to: runbook), trigger: .manual)
        #expect(captured.messages == ["using token ***"])
    }

    @Test func aStepThatCannotStartIsStillRecorded() async throws {
        var harness = try ExecutorHarness()
        defer { harness.remove() }
        try harness.add("""
            name: unready
            steps:
              - id: needs_env
                log: "${{ env.RUNBOOK_TEST_SURELY_UNSET }}"
            """)
        let report = try await harness.run("unready")
        #expect(report.status == .failed)
        let attempts = try await harness.records.runs.attempts(runID: report.runID)
        #expect(attempts.map(\.stepId) == ["needs_env"])
        #expect(attempts.first?.status == "failed")
        #expect(attempts.first?.error?.contains("env.RUNBOOK_TEST_SURELY_UNSET' has no value") == true)
    }
}
