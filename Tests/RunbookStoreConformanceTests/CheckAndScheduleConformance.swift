import Foundation
import RunbookChecks
import RunbookModel
import RunbookScheduler
import RunbookExecutor
import Testing

/// What every CheckJournal and AlertBook must do: a bad check opens one alert, its recovery or a
/// person clears it.
@Suite struct CheckJournalConformance {
    func result(_ check: String, _ status: CheckStatus, at offset: Double) -> CheckResult {
        CheckResult(check: check, status: status, value: status == .healthy ? 1 : 90, text: "lag \(offset)", subject: "ea-01", threshold: "> 60", at: At.seconds(offset))
    }

    @Test(arguments: RecordsBackend.allCases)
    func aBadCheckOpensOneAlertThatItsRecoveryClears(_ backend: RecordsBackend) async throws {
        let place = try await RecordsPlace(backend)
        defer { place.remove() }
        let checks = try await place.open().checks
        try await checks.recordChange(check: "tick-lag", from: .healthy, to: .warning, result: result("tick-lag", .warning, at: 0), flapping: false)
        try await checks.recordChange(check: "tick-lag", from: .warning, to: .critical, result: result("tick-lag", .critical, at: 10), flapping: false)
        try await checks.recordChange(check: "bridge", from: .healthy, to: .critical, result: result("bridge", .critical, at: 20), flapping: true)
        #expect(try await checks.openAlerts() == ["bridge", "tick-lag"], "one alert per check however often it worsens")
        try await checks.recordChange(check: "tick-lag", from: .critical, to: .healthy, result: result("tick-lag", .healthy, at: 30), flapping: false)
        #expect(try await checks.openAlerts() == ["bridge"])
        // A non-finite value is a reading no record can hold; the change is still kept.
        var odd = result("bridge", .critical, at: 40)
        odd.value = .nan
        try await checks.recordChange(check: "bridge", from: .critical, to: .critical, result: odd, flapping: false)
        #expect(try await place.open().checks.openAlerts() == ["bridge"])
    }

    @Test(arguments: RecordsBackend.allCases)
    func aPersonClearsTheAlertsOfOneCheck(_ backend: RecordsBackend) async throws {
        let place = try await RecordsPlace(backend)
        defer { place.remove() }
        let checks = try await place.open().checks
        try await checks.recordChange(check: "disk", from: .healthy, to: .warning, result: result("disk", .warning, at: 0), flapping: false)
        try await checks.recordChange(check: "queue", from: .healthy, to: .critical, result: result("queue", .critical, at: 0), flapping: false)
        #expect(try await checks.clearAlerts(check: "disk", by: "alice") == 1)
        #expect(try await checks.clearAlerts(check: "disk", by: "alice") == 0, "nothing left to clear")
        #expect(try await checks.openAlerts() == ["queue"])
        // The next bad change opens a new alert.
        try await checks.recordChange(check: "disk", from: .warning, to: .critical, result: result("disk", .critical, at: 5), flapping: false)
        #expect(try await checks.openAlerts() == ["disk", "queue"])
    }
}

/// What every SchedulerStateStore must keep: per schedule, the last fire dealt with.
@Suite struct SchedulerStateConformance {
    @Test(arguments: RecordsBackend.allCases)
    func eachScheduleKeepsItsOwnMarkAcrossRestarts(_ backend: RecordsBackend) async throws {
        let place = try await RecordsPlace(backend)
        defer { place.remove() }
        let state = try await place.open().schedule
        #expect(try await state.handledThrough().isEmpty)
        try await state.setHandled("nightly-backup", through: At.seconds(0))
        try await state.setHandled("hourly-report", through: At.seconds(3600))
        try await state.setHandled("nightly-backup", through: At.seconds(86_400))
        let reopened = try await place.open().schedule
        #expect(try await reopened.handledThrough() == ["nightly-backup": At.seconds(86_400), "hourly-report": At.seconds(3600)])
        // Marks keep milliseconds: a fire at .250 is not taken for the one at .000.
        try await reopened.setHandled("tick", through: At.seconds(0.25))
        #expect(try await reopened.handledThrough()["tick"] == At.seconds(0.25))
        // A mark only moves forward: a late write for a fire already dealt with changes nothing
        // and says so, so that its run does not start a second time.
        #expect(try await reopened.setHandled("nightly-backup", through: At.seconds(86_400)) == false)
        #expect(try await reopened.setHandled("nightly-backup", through: At.seconds(3600)) == false)
        #expect(try await reopened.handledThrough()["nightly-backup"] == At.seconds(86_400))
        #expect(try await reopened.setHandled("nightly-backup", through: At.seconds(86_402)))
    }

    @Test(arguments: RecordsBackend.allCases)
    func aMarkedFireIsKnownToHaveRunOnlyWhenItsRunWasRecorded(_ backend: RecordsBackend) async throws {
        let place = try await RecordsPlace(backend)
        defer { place.remove() }
        let records = try await place.open()
        try await records.schedule.setHandled("beat", through: At.seconds(10))
        #expect(try await records.schedule.runRecorded("beat", dueAt: At.seconds(10)) == false, "marked, never started")
        _ = try await records.runs.startRun(RunStart(
            runbook: "note", contentHash: "h", trigger: .schedule, origin: RunOrigin(source: "beat", dueAt: At.seconds(10)), params: [:], parentRunID: nil,
            startedAt: At.seconds(10.2)
        ))
        #expect(try await records.schedule.runRecorded("beat", dueAt: At.seconds(10)))
        #expect(try await records.schedule.runRecorded("beat", dueAt: At.seconds(12)) == false)
        #expect(try await records.schedule.runRecorded("other", dueAt: At.seconds(10)) == false)
    }
}
