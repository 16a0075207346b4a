import Foundation
@testable import RunbookApp
import RunbookCore
@testable import RunbookEngine
import RunbookEscalation
import RunbookTestSupport
import Testing

/// A supervisor reports without waiting; the desk hears each change in the order it happened.
@Suite struct ServiceChangesTests {
    func status(_ state: ServiceState) -> Supervisor<ContinuousClock>.Status {
        Supervisor<ContinuousClock>.Status(name: "signal-engine", state: state, restarts: 3, lastError: "3 restarts within 1h", since: Date(), ports: [])
    }

    @Test func changesReportedAtOnceReachTheDeskInTheirOrder() async throws {
        let harness = try DeskHarness()
        let changes = ServiceChanges(desk: harness.desk)
        // Twenty times gave up then running again, reported faster than the desk records them,
        // then gave up once more.
        for _ in 0..<20 {
            changes.add(status(.gaveUp))
            changes.add(status(.running))
        }
        changes.add(status(.gaveUp))
        // In order, each gave-up opens an incident and each running resolves it: 21 incidents,
        // only the last one open. Out of order, a gave-up would land on an open incident.
        #expect(await eventually { (try? await harness.records.incidents.incidents(limit: 100).count) == 21 })
        let open = try await harness.records.incidents.unresolvedIncidents()
        #expect(open.count == 1)
        #expect(open.first?.id == (try await harness.records.incidents.incidents(limit: 1).first?.id))
        #expect(try await harness.records.incidents.incidents(status: .resolved, limit: 100).count == 20)
    }

    @Test func flushReturnsOnceEveryChangeIsRecorded() async throws {
        let harness = try DeskHarness()
        let changes = ServiceChanges(desk: harness.desk)
        for _ in 0..<5 {
            changes.add(status(.gaveUp))
            changes.add(status(.running))
        }
        changes.add(status(.gaveUp))
        await changes.flush()
        #expect(try await harness.records.incidents.incidents(limit: 100).count == 6)
        #expect(try await harness.records.incidents.unresolvedIncidents().count == 1)
    }
}
