import Foundation
import RunbookEscalation
import RunbookModel
import Testing

/// The seeds' order with the shipped checks: automatic recovery first (level 1, nobody is told),
/// a notification when that fails (level 2).
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
        harness.advance(150)
        try await harness.desk.runEnded(check: "ea-heartbeat", runID: 4, runbook: "ea-lost", status: .failed, escalationLevel: 2, error: "no fresh EA heartbeat")
        let first = try await harness.messages
        #expect(first.map(\.level) == [2, 2])
        #expect(first.allSatisfy { $0.subject.hasPrefix("CRITICAL L2 ea-heartbeat") }, "\(first.map(\.subject))")

        // The climb to level 3 counts from the notification, not from the warning 5 minutes before.
        harness.advance(899)
        try await harness.desk.tick()
        #expect(try await harness.messages.count == 2)
        harness.advance(1)
        try await harness.desk.tick()
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
        harness.advance(299)
        try await harness.desk.tick()
        #expect(try await harness.messages.isEmpty)
        harness.advance(1)
        try await harness.desk.tick()
        let messages = try await harness.messages
        #expect(messages.map(\.level) == [2, 2])
        #expect(messages.first?.subject.hasPrefix("CRITICAL L2 ea-heartbeat") == true, "\(messages.map(\.subject))")
    }
}
