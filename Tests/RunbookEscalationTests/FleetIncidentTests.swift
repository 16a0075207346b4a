import Foundation
import RunbookCore
import RunbookEscalation
import RunbookModel
import RunbookSQLite
import Synchronization
import Testing

/// Engines of a fleet share one incident desk's records: a local check's incidents are each
/// engine's own, a shared check's are the fleet's, and each incident climbs on one engine.
@Suite struct FleetIncidentTests {
    final class Leading: Leadership {
        let value: Mutex<Bool>
        init(_ value: Bool) { self.value = Mutex(value) }
        var isLeading: Bool { value.withLock { $0 } }
    }

    static var checks: [Check] {
        var database = Check(name: "records-db", probe: ProbeConfig(kind: "sql"))
        database.shared = true
        return [Check(name: "ea-heartbeat", probe: ProbeConfig(kind: "ea_heartbeat")), database]
    }

    struct Fleet {
        let folder: URL
        let records: RecordsDatabase
        let time = TestTime()
        let a: IncidentDesk
        let b: IncidentDesk

        init() throws {
            folder = FileManager.default.temporaryDirectory.appendingPathComponent("fleet-desk-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            records = try RecordsDatabase(path: folder.appendingPathComponent("runbook.db").path)
            let time = time
            a = IncidentDesk(store: records.incidents, policy: EscalationPolicy(), channels: ["ops"], checks: { FleetIncidentTests.checks }, now: { time.now }, engine: "engine-a", leadership: Leading(true))
            b = IncidentDesk(store: records.incidents, policy: EscalationPolicy(), channels: ["ops"], checks: { FleetIncidentTests.checks }, now: { time.now }, engine: "engine-b", leadership: Leading(false))
        }
    }

    func check(_ name: String) -> Check { Self.checks.first { $0.name == name }! }

    @Test func eachEngineHasItsOwnIncidentOfALocalCheckAndOneEngineRecoveringClosesOnlyItsOwn() async throws {
        let fleet = try Fleet()
        defer { try? FileManager.default.removeItem(at: fleet.folder) }
        let heartbeat = check("ea-heartbeat")
        let onA = try await fleet.a.checkChanged(heartbeat, to: .critical, text: "last heartbeat 300s ago", subject: "ea-01", threshold: "> 120s")
        let onB = try await fleet.b.checkChanged(heartbeat, to: .critical, text: "last heartbeat 200s ago", subject: "ea-01", threshold: "> 120s")
        #expect(onA.first?.id != onB.first?.id, "two engines' EAs, two incidents")
        #expect(onA.first?.key == "check:ea-heartbeat@engine-a:ea-01")
        #expect(onA.first?.title.contains("on engine-a") == true, "\(onA.first?.title ?? "")")
        let resolved = try await fleet.b.checkChanged(heartbeat, to: .healthy, text: "last heartbeat 1s ago", subject: nil, threshold: "> 120s")
        #expect(resolved.map(\.id) == onB.map(\.id), "engine-b's recovery closes engine-b's incident only")
        #expect(try await fleet.records.incidents.unresolvedIncidents().map(\.id) == onA.map(\.id))
    }

    @Test func aSharedCheckIsOneIncidentForTheFleetClimbedOnceByTheLeader() async throws {
        let fleet = try Fleet()
        defer { try? FileManager.default.removeItem(at: fleet.folder) }
        let database = check("records-db")
        let first = try await fleet.a.checkChanged(database, to: .critical, text: "no answer", subject: nil, threshold: "< 1")
        let second = try await fleet.b.checkChanged(database, to: .critical, text: "no answer", subject: nil, threshold: "< 1")
        #expect(first.map(\.id) == second.map(\.id), "one incident for one shared problem")
        #expect(first.first?.key == "check:records-db")
        let opened = try #require(first.first)
        fleet.time.advance(16 * 60)
        try await fleet.b.tick()
        #expect(try await fleet.records.incidents.incident(opened.id)?.level == opened.level, "a standby does not climb the fleet's incidents")
        try await fleet.a.tick()
        try await fleet.b.tick()
        let climbed = try #require(try await fleet.records.incidents.incident(opened.id))
        #expect(climbed.level == opened.level + 1, "the leader climbs it, once")
        let climbs = try await fleet.records.incidents.events(of: opened.id).filter { $0.kind == .level }
        #expect(climbs.count == 1)
    }
}
