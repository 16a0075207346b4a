import Foundation
import RunbookEscalation
import RunbookModel
import Testing

/// The seeds' order with the shipped checks: automatic recovery first (level 1, nobody is told),
/// a notification when that fails (level 2), and a check explained by another one held back
/// until that one is over.
@Suite struct EscalationOrderTests {
    func shipped(_ name: String) throws -> Check {
        try #require(try DeskHarness.shipped.first { $0.name == name })
    }

    @Test func aHeartbeatWarningWaitsAtLevelOneForEaLostAndTheFirstMessageIsLevelTwo() async throws {
        let harness = try DeskHarness(checks: try DeskHarness.shipped)
        let heartbeat = try shipped("ea-heartbeat")
        // Over 120 s: a warning, and ea-lost runs only on the critical. Nobody hears of it yet.
        let incident = try #require(try await harness.change(heartbeat, to: .warning, "ea-01: last heartbeat 2m ago", subject: "ea-01", threshold: "warning > 120s").first)
        #expect(incident.level == 1)
        #expect(try await harness.messages.isEmpty)

        // Over 300 s: critical, ea-lost starts; still nobody is told while it works.
        harness.advance(180)
        try await harness.change(heartbeat, to: .critical, "ea-01: last heartbeat 5m ago", subject: "ea-01", threshold: "critical > 300s")
        try await harness.desk.tick()
        #expect(try await harness.messages.isEmpty)

        // ea-lost gives up after its 2-minute wait: the first message anyone gets is level 2.
        try await harness.pass(150)
        try await harness.desk.runEnded(check: "ea-heartbeat", runID: 4, runbook: "ea-lost", status: .failed, escalationLevel: 2, error: "no fresh EA heartbeat")
        let first = try await harness.messages
        #expect(first.map(\.level) == [2, 2])
        #expect(first.allSatisfy { $0.subject.hasPrefix("CRITICAL L2 ea-heartbeat") }, "\(first.map(\.subject))")

        // The climb to level 3 counts from the notification, not from the warning 5 minutes before.
        try await harness.pass(899)
        #expect(try await harness.messages.count == 2)
        try await harness.pass(1)
        #expect(try await harness.messages.map(\.level) == [2, 2, 3, 3])
    }

    @Test func aCriticalThatOutlastsItsRecoveryIsNotifiedAtLevelTwoAfterTheGrace() async throws {
        let harness = try DeskHarness(checks: try DeskHarness.shipped)
        let heartbeat = try shipped("ea-heartbeat")
        try await harness.change(heartbeat, to: .warning, "ea-01: last heartbeat 2m ago", subject: "ea-01", threshold: "warning > 120s")
        harness.advance(180)
        try await harness.change(heartbeat, to: .critical, "ea-01: last heartbeat 5m ago", subject: "ea-01", threshold: "critical > 300s")
        // ea-lost ends well, yet the EA stays silent: people hear of it once the grace is over,
        // counted from the critical, not from the warning.
        try await harness.desk.runEnded(check: "ea-heartbeat", runID: 4, runbook: "ea-lost", status: .succeeded, escalationLevel: 0, error: nil)
        try await harness.pass(299)
        #expect(try await harness.messages.isEmpty)
        try await harness.pass(1)
        let messages = try await harness.messages
        #expect(messages.map(\.level) == [2, 2])
        #expect(messages.first?.subject.hasPrefix("CRITICAL L2 ea-heartbeat") == true, "\(messages.map(\.subject))")
    }

    /// ea-heartbeat is open at level 2 and router-peers, which depends on it, is held back; the
    /// heartbeats come back 30 s before router-peers' climb time.
    func heldBackUntilShortlyBeforeItsClimb() async throws -> (DeskHarness, Check, Incident) {
        let harness = try DeskHarness(checks: try DeskHarness.shipped)
        let heartbeat = try shipped("ea-heartbeat")
        let peers = try shipped("router-peers")
        try await harness.change(heartbeat, to: .critical, "ea-01: last heartbeat 5m ago", subject: "ea-01", threshold: "critical > 300s")
        let held = try #require(try await harness.change(peers, to: .warning, "2 peer(s) connected, 0 sending heartbeats, 2 stray", subject: "command-router", threshold: "warning > 0").first)
        try await harness.desk.runEnded(check: "ea-heartbeat", runID: 4, runbook: "ea-lost", status: .failed, escalationLevel: 2, error: "no fresh EA heartbeat")
        try await harness.pass(870)
        #expect(try await harness.messages(of: held.id).isEmpty)
        try await harness.change(heartbeat, to: .healthy, "ea-01: last heartbeat 2s ago", subject: "ea-01", threshold: "warning > 120s, critical > 300s")
        return (harness, peers, held)
    }

    @Test func aDependentHeldBackDoesNotClimbAndResolvesQuietlyWhenItClearsAfterItsParent() async throws {
        let (harness, peers, held) = try await heldBackUntilShortlyBeforeItsClimb()
        // The parent's climb time passes 30 s after the heartbeats came back: no page.
        try await harness.pass(30)
        #expect(try await harness.messages(of: held.id).isEmpty)
        // The EAs are identified again within router-peers' hysteresis (2 results 30 s apart).
        try await harness.pass(30)
        try await harness.change(peers, to: .healthy, "2 peer(s) connected, 2 sending heartbeats", subject: "command-router", threshold: "warning > 0")
        #expect(try await harness.records.incidents.incident(held.id)?.status == .resolved)
        #expect(try await harness.messages(of: held.id).isEmpty)
        #expect(try await harness.messages.allSatisfy { !$0.subject.contains("router-peers") })
    }

    @Test func aDependentStillBadAfterItsParentStartsOverAtLevelOneWithAFreshClock() async throws {
        let (harness, _, held) = try await heldBackUntilShortlyBeforeItsClimb()
        // Stray peers that stay after the EAs are back are router-peers' own: from level 1, with
        // the clock started when the parent resolved, so the first message is level 2.
        try await harness.pass(299)
        #expect(try await harness.messages(of: held.id).isEmpty)
        try await harness.pass(1)
        let messages = try await harness.messages(of: held.id)
        #expect(messages.map(\.level) == [2, 2])
        #expect(messages.first?.subject.hasPrefix("WARNING L2 router-peers") == true, "\(messages.map(\.subject))")
        #expect(try await harness.records.incidents.incident(held.id)?.level == 2)
        // `runbook incident` shows why it waited and when its clock started again.
        let timeline = try await harness.timeline(held.id)
        #expect(timeline.contains { $0.hasPrefix("suppressed: level 2 waits: held back by incident") && $0.contains("ea-heartbeat") }, "\(timeline)")
        #expect(timeline.contains { $0.hasPrefix("level: level 1 (automatic recovery) from now") }, "\(timeline)")
    }
}
