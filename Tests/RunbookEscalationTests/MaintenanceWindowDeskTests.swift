import Foundation
import RunbookCore
import RunbookEscalation
import RunbookModel
import Testing

/// Maintenance windows at the desk: the messages of the incidents they cover wait for their end,
/// then go (or are dropped), on a test clock.
@Suite struct MaintenanceWindowDeskTests {
    private static func at(_ text: String) -> Date {
        try! Date(text, strategy: .iso8601)
    }

    private func set(_ harness: DeskHarness, _ text: String) {
        harness.advance(Self.at(text).timeIntervalSince(harness.now))
    }

    /// Sets the clock, then the desk ticks.
    private func pass(_ harness: DeskHarness, to text: String) async throws {
        set(harness, text)
        try await harness.desk.tick()
    }

    private func weekly(_ harness: DeskHarness, target: String = "market-data", atEnd: MaintenanceWindow.AtEnd = .send) async throws -> MaintenanceWindow {
        try await harness.desk.addWindow(MaintenanceWindow(
            target: target, recurrence: try MaintenanceWindow.recurrence(every: "0 22 * * 5", length: "2h", zone: "Europe/London", during: nil),
            reason: "broker maintenance", by: "ops", createdAt: harness.now, atEnd: atEnd
        ))
    }

    private func critical(_ harness: DeskHarness) async throws -> Incident {
        try await harness.change(harness.check("market-data"), to: .critical, "no tick for 120s", threshold: "> 60s").first!
    }

    // London leaves summer time on 2026-10-25: "0 22 * * 5" is 21:00-23:00 UTC on Friday the
    // 23rd and 22:00-24:00 UTC on Friday the 30th.
    @Test func aWeeklyWindowHoldsANotificationUntilItsEndAcrossTheClockChange() async throws {
        let harness = try DeskHarness()
        set(harness, "2026-10-20T12:00:00Z")
        let window = try await weekly(harness)

        set(harness, "2026-10-23T21:30:00Z")
        let held = try await critical(harness)
        #expect(held.level == 2)
        #expect(try await harness.messages(of: held.id).isEmpty)
        #expect(try await harness.timeline(held.id).contains("held: opened: held by maintenance window \(window.id) until 2026-10-23T23:00:00Z: broker maintenance"))
        // Still in force: nothing goes.
        try await pass(harness, to: "2026-10-23T22:59:59Z")
        #expect(try await harness.messages(of: held.id).isEmpty)
        // Its end: one message per channel, with the state now, saying it was held.
        try await pass(harness, to: "2026-10-23T23:00:00Z")
        let sent = try await harness.messages(of: held.id)
        #expect(sent.map(\.channel).sorted() == ["ops-email", "ops-telegram"])
        #expect(sent.allSatisfy { $0.body.contains("held during maintenance window \(window.id) (broker maintenance), which has ended") })
        #expect(try await harness.timeline(held.id).contains("released: maintenance window \(window.id) ended: the message it held sends now"))
        // Once only.
        try await pass(harness, to: "2026-10-23T23:00:05Z")
        #expect(try await harness.messages(of: held.id).count == 2)
        _ = try await harness.healthy("market-data")

        // Friday the 30th, 21:30 UTC: before the window (22:00 UTC now), so it is sent at once.
        set(harness, "2026-10-30T21:30:00Z")
        let told = try await critical(harness)
        #expect(try await harness.messages(of: told.id).count == 2)
        _ = try await harness.healthy("market-data")
        // 22:30 UTC is inside it: held until midnight UTC.
        set(harness, "2026-10-30T22:30:00Z")
        let later = try await critical(harness)
        #expect(try await harness.messages(of: later.id).isEmpty)
        #expect(try await harness.timeline(later.id).contains { $0.contains("held by maintenance window \(window.id) until 2026-10-31T00:00:00Z") })
        try await pass(harness, to: "2026-10-30T23:59:00Z")
        #expect(try await harness.messages(of: later.id).isEmpty)
        try await pass(harness, to: "2026-10-31T00:00:00Z")
        #expect(try await harness.messages(of: later.id).count == 2)
    }

    @Test func insideAWindowTheClimbWaitsButAPersonsLevelFourGoesAtOnce() async throws {
        let harness = try DeskHarness()
        set(harness, "2026-10-20T12:00:00Z")
        let window = try await weekly(harness)
        set(harness, "2026-10-23T21:05:00Z")
        let held = try await critical(harness)
        // Nearly two hours unacknowledged inside the window: no climb, nothing sent.
        try await pass(harness, to: "2026-10-23T22:55:00Z")
        #expect(try await harness.desk.store.incident(held.id)?.level == 2)
        #expect(try await harness.messages(of: held.id).isEmpty)
        // A person's level 4 is no planned quiet: it goes at once, and the window's end adds nothing.
        try await harness.desk.reset(held.id, by: "maria (CLI)")
        #expect(try await harness.messages(of: held.id).map(\.level) == [4, 4])
        try await pass(harness, to: "2026-10-23T23:00:00Z")
        #expect(try await harness.messages(of: held.id).count == 2)
        #expect(try await harness.timeline(held.id).contains("released: maintenance window \(window.id) ended: the incident was paged since, so the message it held is not sent"))
        // A reason or a name that would forge lines in a message or the log is refused.
        await #expect(throws: EscalationError.self) {
            try await harness.desk.addWindow(MaintenanceWindow(
                target: "all", recurrence: .during(.weekend), reason: "quiet\nAcknowledge: runbook ack 999", by: "ops", createdAt: harness.now
            ))
        }
        await #expect(throws: EscalationError.self) { try await harness.desk.silence(check: "all", until: harness.now, reason: "ok", by: "ops\u{202E}") }
    }

    @Test func anEALostWithOpenPositionsIsPagedThroughAWindowOfAll() async throws {
        let harness = try DeskHarness()
        set(harness, "2026-10-20T12:00:00Z")
        _ = try await weekly(harness, target: "all")
        set(harness, "2026-10-23T21:30:00Z")
        harness.held.set([Exposure(ea: "ea-01", positions: 3, lots: 1.2, fromReport: true)])
        let exposed = try await harness.critical("ea-heartbeat", subject: "ea-01")
        let sent = try await harness.messages(of: exposed.id)
        #expect(sent.count == 2 && sent.allSatisfy { $0.body.contains("ea-01 lost with 3 open positions, 1.2 lots") }, "positions at risk are no planned quiet")
        // A flat EA in the same window waits, and a market-data incident is held.
        harness.held.set([])
        let quiet = try await critical(harness)
        #expect(try await harness.messages(of: quiet.id).isEmpty)
    }

    @Test func aMessageHeldByOneOccurrenceIsNotHeldByTheNextAfterAStopAcrossItsEnd() async throws {
        let harness = try DeskHarness()
        set(harness, "2026-10-20T12:00:00Z")
        let window = try await weekly(harness)
        set(harness, "2026-10-23T21:30:00Z")
        let held = try await critical(harness)
        #expect(try await harness.messages(of: held.id).isEmpty)
        // The engine was down from before that window's end until inside the next one: the first
        // occurrence's hold ends, and the message is held anew by the one in force, until its own end.
        try await pass(harness, to: "2026-10-30T22:30:00Z")
        let timeline = try await harness.timeline(held.id)
        #expect(timeline.contains("released: maintenance window \(window.id) ended: the message it held sends now"), "\(timeline)")
        #expect(timeline.last?.contains("held by maintenance window \(window.id) until 2026-10-31T00:00:00Z") == true, "\(timeline)")
        try await pass(harness, to: "2026-10-31T00:00:00Z")
        let sent = try await harness.messages(of: held.id)
        #expect(sent.count == 2 && sent.allSatisfy { $0.body.contains("held during maintenance window \(window.id)") })
    }

    @Test func aWindowThatDropsSendsNothingAtItsEnd() async throws {
        let harness = try DeskHarness()
        set(harness, "2026-10-20T12:00:00Z")
        let window = try await weekly(harness, atEnd: .drop)
        set(harness, "2026-10-23T21:30:00Z")
        let held = try await critical(harness)
        try await pass(harness, to: "2026-10-23T23:00:00Z")
        #expect(try await harness.messages(of: held.id).isEmpty)
        #expect(try await harness.timeline(held.id).contains("released: maintenance window \(window.id) ended: the message it held is dropped (at_end: drop)"))
        // A climb after the window notifies as usual.
        try await pass(harness, to: "2026-10-24T01:00:00Z")
        #expect(try await harness.messages(of: held.id).count >= 1)
    }

    @Test func anIncidentResolvedInsideTheWindowPagesNobody() async throws {
        let harness = try DeskHarness()
        set(harness, "2026-10-20T12:00:00Z")
        _ = try await weekly(harness)
        set(harness, "2026-10-23T21:30:00Z")
        let held = try await critical(harness)
        set(harness, "2026-10-23T22:00:00Z")
        _ = try await harness.healthy("market-data")
        try await pass(harness, to: "2026-10-23T23:00:00Z")
        #expect(try await harness.messages(of: held.id).isEmpty)
    }

    @Test func anIncidentAcknowledgedInsideTheWindowIsNotSentAtItsEnd() async throws {
        let harness = try DeskHarness()
        set(harness, "2026-10-20T12:00:00Z")
        let window = try await weekly(harness)
        set(harness, "2026-10-23T21:30:00Z")
        let held = try await critical(harness)
        try await harness.desk.acknowledge(held.id, by: "maria")
        try await pass(harness, to: "2026-10-23T23:00:00Z")
        #expect(try await harness.messages(of: held.id).isEmpty)
        #expect(try await harness.timeline(held.id).contains(
            "released: maintenance window \(window.id) ended: maria acknowledged the incident meanwhile, so the message it held is not sent"
        ))
    }

    @Test func aWindowThatHoldsRunsHoldsTheRecoveryGraceToo() async throws {
        let harness = try DeskHarness()
        set(harness, "2026-10-20T12:00:00Z")
        let window = try await harness.desk.addWindow(MaintenanceWindow(
            target: "ea-heartbeat", recurrence: try MaintenanceWindow.recurrence(every: "0 22 * * 5", length: "2h", zone: "Europe/London", during: nil),
            reason: "broker maintenance", by: "ops", createdAt: harness.now, holdRuns: true
        ))
        set(harness, "2026-10-23T21:30:00Z")
        // ea-heartbeat has a runbook: level 1, which the window holds back.
        let incident = try await harness.critical("ea-heartbeat", subject: "ea-01")
        #expect(incident.level == 1)
        try await pass(harness, to: "2026-10-23T22:59:00Z")
        #expect(try await harness.records.incidents.incident(incident.id)?.level == 1)
        // The window is over: the runbook can start, and its grace counts from now.
        try await pass(harness, to: "2026-10-23T23:00:00Z")
        #expect(try await harness.timeline(incident.id).contains { $0.hasPrefix("level: level 1 (automatic recovery) from now") && $0.contains("maintenance window \(window.id)") })
        try await pass(harness, to: "2026-10-23T23:01:00Z")
        #expect(try await harness.records.incidents.incident(incident.id)?.level == 1)
        try await pass(harness, to: "2026-10-23T23:30:00Z")
        #expect(try await harness.records.incidents.incident(incident.id)?.level == 2)
        #expect(try await harness.messages(of: incident.id).count == 2)
    }

    @Test func theRecoveryGraceHeldByAWindowCountsAfreshAfterARestartAcrossItsEnd() async throws {
        let first = try DeskHarness()
        set(first, "2026-10-20T12:00:00Z")
        let window = try await first.desk.addWindow(MaintenanceWindow(
            target: "ea-heartbeat", recurrence: try MaintenanceWindow.recurrence(every: "0 22 * * 5", length: "2h", zone: "Europe/London", during: nil),
            reason: "broker maintenance", by: "ops", createdAt: first.now, holdRuns: true
        ))
        set(first, "2026-10-23T21:30:00Z")
        let incident = try await first.critical("ea-heartbeat", subject: "ea-01")
        try await pass(first, to: "2026-10-23T22:00:00Z")
        #expect(try await first.timeline(incident.id).contains("level: level 1 waits: maintenance window \(window.id) holds its runbook back"))
        // The engine stops inside the window and starts again after its end: a new desk, no memory.
        let second = try DeskHarness(reopening: first)
        set(second, "2026-10-23T23:05:00Z")
        // Its guardian reads the check again, still bad.
        _ = try await second.critical("ea-heartbeat", subject: "ea-01")
        try await second.desk.tick()
        #expect(try await second.records.incidents.incident(incident.id)?.level == 1, "the grace counts from the window's end, not from 21:30")
        #expect(try await second.timeline(incident.id).contains { $0.hasPrefix("level: level 1 (automatic recovery) from now") })
        set(second, "2026-10-23T23:06:00Z")
        try await second.desk.tick()
        #expect(try await second.records.incidents.incident(incident.id)?.level == 1, "and once only")
        set(second, "2026-10-23T23:40:00Z")
        try await second.desk.tick()
        let timeline = try await second.timeline(incident.id)
        #expect(try await second.records.incidents.incident(incident.id)?.level == 2, "\(timeline)")
    }

    @Test func aWindowForAllCoversEveryCheckAndOthersAreNotHeld() async throws {
        let harness = try DeskHarness()
        set(harness, "2026-10-20T12:00:00Z")
        _ = try await weekly(harness, target: "router-peers")
        set(harness, "2026-10-23T21:30:00Z")
        // Another check's window does not hold this one.
        let told = try await critical(harness)
        #expect(try await harness.messages(of: told.id).count == 2)
        _ = try await harness.healthy("market-data")
        set(harness, "2026-10-23T21:40:00Z")
        _ = try await harness.desk.addWindow(MaintenanceWindow(
            target: "all", recurrence: try MaintenanceWindow.recurrence(every: "0 22 * * 5", length: "2h", zone: "Europe/London", during: nil),
            reason: "all of it", by: "ops", createdAt: harness.now
        ))
        set(harness, "2026-10-23T21:50:00Z")
        let held = try await critical(harness)
        #expect(try await harness.messages(of: held.id).isEmpty)
    }

    @Test func removingAWindowReleasesWhatItHeld() async throws {
        let harness = try DeskHarness()
        set(harness, "2026-10-20T12:00:00Z")
        let window = try await weekly(harness)
        set(harness, "2026-10-23T21:30:00Z")
        let held = try await critical(harness)
        #expect(try await harness.desk.removeWindow(window.id, by: "ann (CLI)")?.id == window.id)
        #expect(try await harness.records.incidents.windows().isEmpty)
        try await pass(harness, to: "2026-10-23T21:31:00Z")
        #expect(try await harness.messages(of: held.id).count == 2)
        await #expect(throws: EscalationError.self) { try await harness.desk.removeWindow(window.id, by: "ann (CLI)") }
    }

    // The market closes on Friday 2026-10-23 at 21:00 UTC and opens on Sunday at 21:00 UTC.
    @Test func aWeekendWindowHoldsUntilTheMarketOpens() async throws {
        let harness = try DeskHarness()
        set(harness, "2026-10-20T12:00:00Z")
        let window = try await harness.desk.addWindow(MaintenanceWindow(target: "all", recurrence: .during(.weekend), reason: "weekend", by: "ops", createdAt: harness.now))
        let states = try await harness.desk.windowStates()
        #expect(states.first?.inForceUntil == nil && states.first?.nextStart == Self.at("2026-10-23T21:00:00Z"))
        set(harness, "2026-10-24T10:00:00Z")
        let held = try await critical(harness)
        #expect(try await harness.timeline(held.id).contains("held: opened: held by maintenance window \(window.id) until 2026-10-25T21:00:00Z: weekend"))
        #expect(try await harness.desk.windowStates().first?.inForceUntil == Self.at("2026-10-25T21:00:00Z"))
        try await pass(harness, to: "2026-10-25T20:59:00Z")
        #expect(try await harness.messages(of: held.id).isEmpty)
        try await pass(harness, to: "2026-10-25T21:00:00Z")
        #expect(try await harness.messages(of: held.id).count == 2)
    }
}
