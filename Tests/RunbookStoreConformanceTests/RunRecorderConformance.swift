import Foundation
import RunbookCore
import RunbookExecutor
import RunbookModel
import Testing

/// What every RunRecorder and RunHistory must do, whatever keeps the records.
@Suite struct RunRecorderConformance {
    func start(_ runs: any RunRecorder, _ runbook: String, trigger: Trigger = .manual, origin: RunOrigin? = nil, parent: Int64? = nil, at offset: Double = 0) async throws -> Int64 {
        try await runs.startRun(RunStart(
            runbook: runbook, contentHash: "hash-\(runbook)", trigger: trigger, origin: origin, params: ["symbol": "EURUSD", "lots": "0.1"],
            parentRunID: parent, startedAt: At.seconds(offset)
        ))
    }

    @Test(arguments: RecordsBackend.allCases)
    func aStepsOutputsAreKeptForAResumeDurationsAndAll(_ backend: RecordsBackend) async throws {
        let place = try await RecordsPlace(backend)
        defer { place.remove() }
        let runs = try await place.open().runs
        let id = try await start(runs, "deploy", trigger: .resume, origin: RunOrigin(source: "run 7"))
        let outputs: [String: Value] = ["token": .string("tok-1"), "free_mb": .number(512), "ok": .bool(true), "waited": .duration(.seconds(90)), "tags": .list([.string("a")])]
        let first = try await runs.startAttempt(AttemptStart(runID: id, stepIndex: 0, stepID: "prepare", primitive: "shell", attempt: 1, startedAt: At.seconds(1)), completing: nil)
        // Written with the next call, as a step's end travels.
        _ = try await runs.startAttempt(
            AttemptStart(runID: id, stepIndex: 1, stepID: "act", primitive: "shell", attempt: 1, startedAt: At.seconds(2)),
            completing: FinishedAttempt(id: first, outcome: AttemptOutcome(status: .succeeded, finishedAt: At.seconds(2), duration: .seconds(1), outputs: Value.recorded(outputs)))
        )
        let attempts = try await runs.attempts(runID: id)
        #expect(attempts.first?.outputs.flatMap(Value.outputs(recorded:)) == outputs)
        #expect(attempts.last?.outputs == nil && attempts.last?.status == "running", "no end yet: a resume names it")
        let run = try #require(try await runs.run(id: id))
        #expect(run.trigger == "resume" && run.triggerSource == "run 7")
    }

    @Test(arguments: RecordsBackend.allCases)
    func aRunReadsBackWithItsStepsInOrderAndHowEachEnded(_ backend: RecordsBackend) async throws {
        let place = try await RecordsPlace(backend)
        defer { place.remove() }
        let runs = try await place.open().runs
        let id = try await start(runs, "restart-bridge", trigger: .check, origin: RunOrigin(source: "bridge-down"))
        let first = try await runs.startAttempt(AttemptStart(runID: id, stepIndex: 0, stepID: "stop", primitive: "shell", attempt: 1, startedAt: At.seconds(1)), completing: nil)
        // The end of one attempt travels with the start of the next.
        let second = try await runs.startAttempt(
            AttemptStart(runID: id, stepIndex: 1, stepID: "start", primitive: "shell", attempt: 1, startedAt: At.seconds(2)),
            completing: FinishedAttempt(id: first, outcome: AttemptOutcome(status: .succeeded, finishedAt: At.seconds(2), duration: .milliseconds(1500), exitCode: 0, output: "stopped"))
        )
        try await runs.finishAttempt(FinishedAttempt(id: second, outcome: AttemptOutcome(status: .failed, finishedAt: At.seconds(3), duration: .seconds(1), exitCode: 4, output: "no", error: "exit 4")))
        let retry = try await runs.startAttempt(AttemptStart(runID: id, stepIndex: 1, stepID: "start", primitive: "shell", attempt: 2, startedAt: At.seconds(4)), completing: nil)
        _ = try await runs.startAttempt(AttemptStart(runID: id, stepIndex: 2, stepID: "report", primitive: "notify", attempt: 0, startedAt: At.seconds(5), skipped: true), completing: FinishedAttempt(
            id: retry, outcome: AttemptOutcome(status: .succeeded, finishedAt: At.seconds(5), duration: .seconds(1), exitCode: 0, output: "started")
        ))
        try await runs.finishRun(id, RunOutcome(status: .succeeded, finishedAt: At.seconds(6), escalationLevel: 1, error: nil), completing: nil)

        let run = try #require(try await runs.run(id: id))
        #expect(run.runbook == "restart-bridge")
        #expect(run.contentHash == "hash-restart-bridge")
        #expect(run.trigger == "check")
        #expect(run.triggerSource == "bridge-down")
        #expect(run.status == "succeeded")
        #expect(run.escalationLevel == 1)
        #expect(run.parameters == ["symbol": "EURUSD", "lots": "0.1"])
        #expect(run.startedAt == At.seconds(0))
        #expect(run.finishedAt == At.seconds(6))
        let attempts = try await runs.attempts(runID: id)
        #expect(attempts.map(\.stepId) == ["stop", "start", "start", "report"])
        #expect(attempts.map(\.attempt) == [1, 1, 2, 0])
        #expect(attempts.map(\.status) == ["succeeded", "failed", "succeeded", "skipped"])
        #expect(attempts.map(\.exitCode) == [0, 4, 0, nil])
        #expect(attempts.map(\.output) == ["stopped", "no", "started", ""])
        #expect(attempts[1].error == "exit 4")
        #expect(attempts[0].durationMs == 1500)
    }

    @Test(arguments: RecordsBackend.allCases)
    func runsAreFoundByRunbookStatusTriggerAndSourceNewestFirst(_ backend: RecordsBackend) async throws {
        let place = try await RecordsPlace(backend)
        defer { place.remove() }
        let runs = try await place.open().runs
        let nightly = try await start(runs, "backup", trigger: .schedule, origin: RunOrigin(source: "nightly", dueAt: At.seconds(0)), at: 0)
        let manual = try await start(runs, "backup", at: 10)
        let other = try await start(runs, "report", trigger: .schedule, origin: RunOrigin(source: "hourly"), at: 20)
        try await runs.finishRun(nightly, RunOutcome(status: .failed, finishedAt: At.seconds(1), escalationLevel: 0, error: "disk full"), completing: nil)

        #expect(try await runs.runs().map(\.id) == [other, manual, nightly])
        #expect(try await runs.runs(RunFilter(runbook: "backup")).map(\.id) == [manual, nightly])
        #expect(try await runs.runs(RunFilter(status: "running")).map(\.id) == [other, manual])
        #expect(try await runs.runs(RunFilter(trigger: "schedule", source: "nightly")).map(\.id) == [nightly])
        #expect(try await runs.runs(RunFilter(since: At.seconds(10))).map(\.id) == [other, manual])
        #expect(try await runs.runs(RunFilter(limit: 1)).map(\.id) == [other])
        let failed = try #require(try await runs.run(id: nightly))
        #expect(failed.error == "disk full")
        #expect(failed.dueAt == At.seconds(0))
        #expect(try await runs.run(id: 999) == nil)
    }

    @Test(arguments: RecordsBackend.allCases)
    func aChildRunIsFoundFromItsParent(_ backend: RecordsBackend) async throws {
        let place = try await RecordsPlace(backend)
        defer { place.remove() }
        let runs = try await place.open().runs
        let parent = try await start(runs, "emergency-recovery")
        let first = try await start(runs, "restart-bridge", trigger: .runbook, parent: parent, at: 1)
        let second = try await start(runs, "restart-router", trigger: .runbook, parent: parent, at: 2)
        #expect(try await runs.children(of: parent).map(\.id) == [first, second])
        #expect(try await runs.children(of: parent).map(\.parentRunId) == [parent, parent])
        #expect(try await runs.children(of: first).isEmpty)
    }

    @Test(arguments: RecordsBackend.allCases)
    func whatWasRecordedIsThereForTheNextProcess(_ backend: RecordsBackend) async throws {
        let place = try await RecordsPlace(backend)
        defer { place.remove() }
        let id = try await start(try await place.open().runs, "backup")
        let reopened = try await place.open().runs
        // This process is alive: its running run is not taken for interrupted.
        #expect(try await reopened.run(id: id)?.status == "running")
        try await reopened.finishRun(id, RunOutcome(status: .cancelled, finishedAt: At.seconds(3), escalationLevel: 0, error: "cancelled"), completing: nil)
        #expect(try await place.open().runs.run(id: id)?.status == "cancelled")
    }

    @Test(arguments: RecordsBackend.allCases)
    func aCancelledCallerStillRecordsTheEndOfItsRun(_ backend: RecordsBackend) async throws {
        let place = try await RecordsPlace(backend)
        defer { place.remove() }
        let runs = try await place.open().runs
        let id = try await start(runs, "long")
        let task = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            try await runs.finishRun(id, RunOutcome(status: .cancelled, finishedAt: At.seconds(1), escalationLevel: 0, error: "cancelled"), completing: nil)
        }
        try await task.value
        #expect(try await runs.run(id: id)?.status == "cancelled")
    }
}
