import Foundation
import RunbookEscalation
import RunbookModel
import RunbookTestSupport
import Synchronization
import Testing

/// A maintenance window that holds runs: the check's runbook waits for its end, on the guardian's
/// own wall clock, which the test sets.
@Suite(.serialized) struct MaintenanceWindowRunTests {
    final class WallClock: Sendable {
        private let value = Mutex(Date())
        var now: Date { value.withLock { $0 } }
        func set(_ text: String) { value.withLock { $0 = try! Date(text, strategy: .iso8601) } }
    }

    static let quickRunbook = """
        name: recover
        steps:
          - id: work
            wait: 10ms
        """

    static func check(_ dial: String) -> String {
        """
        name: dial-check
        probe: {dial: \(dial)}
        critical: "> 5"
        interval: 1s
        hysteresis: {fail: 1, recover: 1}
        cooldown: 1m
        on_critical: {run: recover}
        """
    }

    // London leaves summer time on 2026-10-25: "0 22 * * 5" is 21:00-23:00 UTC on Friday the
    // 23rd and 22:00-24:00 UTC on Friday the 30th.
    @Test func aWeeklyWindowHoldsACheckTriggeredRunUntilItEndsAcrossTheClockChange() async throws {
        let dial = "window-\(UUID().uuidString)"
        let wall = WallClock()
        let harness = try GuardianHarness([Self.check(dial)], runbooks: [Self.quickRunbook], escalation: EscalationPolicy(), wallClock: { wall.now })
        defer { harness.remove() }
        let desk = try #require(harness.desk)
        let window = try await desk.addWindow(MaintenanceWindow(
            target: "dial-check", recurrence: try MaintenanceWindow.recurrence(every: "0 22 * * 5", length: "2h", zone: "Europe/London", during: nil),
            reason: "broker maintenance", by: "ops", createdAt: wall.now, holdRuns: true
        ))
        let evaluate = { await harness.guardian.evaluateOnce(harness.checks[0]) }
        func runs() async throws -> Int { try await harness.records.runs.runs().count }

        // Friday the 23rd, 21:30 UTC: inside the window (21:00-23:00 UTC).
        wall.set("2026-10-23T21:30:00Z")
        DialProbe.set(dial, 10)
        await evaluate()
        #expect(harness.decisions.all == [.held("held by maintenance window \(window.id) until 2026-10-23T23:00:00Z: broker maintenance")])
        let incident = try #require(try await harness.records.incidents.unresolvedIncidents().first)
        #expect(try await harness.records.incidents.events(of: incident.id).contains {
            $0.kind == .run && $0.detail.hasPrefix("recover not started: held by maintenance window \(window.id) until 2026-10-23T23:00:00Z")
        })
        // Still bad, still in force: held again, quietly.
        wall.set("2026-10-23T22:59:00Z")
        await evaluate()
        #expect(try await runs() == 0)
        // The window has ended: the check still bad starts its run at its next evaluation.
        wall.set("2026-10-23T23:00:00Z")
        await evaluate()
        #expect(harness.decisions.all.last == .started(runbook: "recover"))
        #expect(await eventually { (try? await runs()) == 1 })
        // Its run over, so that the next one is not refused as still running.
        #expect(await eventually { harness.launcher.running("check:dial-check").isEmpty })

        DialProbe.set(dial, 0)
        await evaluate()
        // Friday the 30th, 21:30 UTC: the window is 22:00-24:00 UTC now, so the run starts.
        wall.set("2026-10-30T21:30:00Z")
        DialProbe.set(dial, 10)
        await evaluate()
        #expect(harness.decisions.all.last == .started(runbook: "recover"))
        #expect(await eventually { (try? await runs()) == 2 })
        DialProbe.set(dial, 0)
        await evaluate()
        // 22:30 UTC is inside it.
        wall.set("2026-10-30T22:30:00Z")
        DialProbe.set(dial, 10)
        await evaluate()
        #expect(harness.decisions.all.last == .held("held by maintenance window \(window.id) until 2026-10-31T00:00:00Z: broker maintenance"))
        #expect(try await runs() == 2)
    }

    /// The case whole: one weekly window for every check, on one test clock, holds the
    /// message of a check with no runbook and the run of a check with one, and lets both go at its end.
    @Test func aWeeklyWindowHoldsANotificationAndACheckTriggeredRunUntilItEnds() async throws {
        let (dial, quiet) = ("window-\(UUID().uuidString)", "window-\(UUID().uuidString)")
        let wall = WallClock()
        let plain = """
            name: quiet-check
            probe: {dial: \(quiet)}
            critical: "> 5"
            interval: 1s
            hysteresis: {fail: 1, recover: 1}
            """
        let harness = try GuardianHarness([Self.check(dial), plain], runbooks: [Self.quickRunbook], escalation: EscalationPolicy(), wallClock: { wall.now })
        defer { harness.remove() }
        let desk = try #require(harness.desk)
        try await desk.addWindow(MaintenanceWindow(
            target: "all", recurrence: try MaintenanceWindow.recurrence(every: "0 22 * * 5", length: "2h", zone: "Europe/London", during: nil),
            reason: "broker maintenance", by: "ops", createdAt: wall.now, holdRuns: true
        ))
        func messages() async throws -> Int { try await harness.records.incidents.outbox(states: Set(OutboxEntry.State.allCases), limit: 100).count }

        // Friday the 30th, after London's clocks went back: 21:30 UTC is before the window.
        wall.set("2026-10-30T21:30:00Z")
        DialProbe.set(quiet, 10)
        await harness.guardian.evaluateOnce(harness.checks[1])
        #expect(try await messages() == 2)
        DialProbe.set(quiet, 0)
        await harness.guardian.evaluateOnce(harness.checks[1])
        let resolved = try await messages()

        // 22:30 UTC is inside it: the message and the run both wait.
        wall.set("2026-10-30T22:30:00Z")
        DialProbe.set(quiet, 10)
        DialProbe.set(dial, 10)
        await harness.guardian.evaluateOnce(harness.checks[1])
        await harness.guardian.evaluateOnce(harness.checks[0])
        try await desk.tick()
        #expect(try await messages() == resolved)
        #expect(try await harness.records.runs.runs().isEmpty)
        #expect(harness.decisions.all.last == .held("held by maintenance window 1 until 2026-10-31T00:00:00Z: broker maintenance"))

        // Midnight UTC: the window is over; the held message goes at the desk's tick and the run
        // starts at the check's next evaluation.
        wall.set("2026-10-31T00:00:00Z")
        try await desk.tick()
        #expect(try await messages() == resolved + 2)
        await harness.guardian.evaluateOnce(harness.checks[0])
        #expect(harness.decisions.all.last == .started(runbook: "recover"))
        #expect(await eventually { (try? await harness.records.runs.runs().count) == 1 })
    }

    @Test func aWindowThatDoesNotHoldRunsLetsTheRunbookStart() async throws {
        let dial = "window-\(UUID().uuidString)"
        let wall = WallClock()
        wall.set("2026-10-24T12:00:00Z")
        let harness = try GuardianHarness([Self.check(dial)], runbooks: [Self.quickRunbook], escalation: EscalationPolicy(), wallClock: { wall.now })
        defer { harness.remove() }
        let desk = try #require(harness.desk)
        // The market's weekend, without hold_runs: messages wait, runbooks do not.
        try await desk.addWindow(MaintenanceWindow(target: "all", recurrence: .during(.weekend), reason: "weekend", by: "ops", createdAt: wall.now))
        DialProbe.set(dial, 10)
        await harness.guardian.evaluateOnce(harness.checks[0])
        #expect(harness.decisions.all == [.started(runbook: "recover")])
    }
}
