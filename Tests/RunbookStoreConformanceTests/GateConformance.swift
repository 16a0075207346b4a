import Foundation
import RunbookCore
import Testing

/// What every GateStore must do: keep each change, the latest first, across a reopen.
@Suite struct GateConformance {
    @Test(arguments: RecordsBackend.allCases)
    func theGatesChangesAreKeptNewestFirstAcrossAReopen(_ backend: RecordsBackend) async throws {
        let place = try await RecordsPlace(backend)
        defer { place.remove() }
        let store = try await place.open().flows as! any GateStore
        #expect(try await store.gate() == nil, "never changed: open")
        let closed = GateChange(closed: true, reason: "broker maintenance: 'quotes' & fills", by: "ann", via: "cli", at: At.seconds(1))
        let opened = GateChange(closed: false, reason: "", by: "runbook emergency-recovery (run 7)", via: "runbook", at: At.seconds(2))
        try await store.changeGate(closed)
        try await store.changeGate(opened)
        let reopened = try await place.open().flows as! any GateStore
        #expect(try await reopened.gate() == opened)
        #expect(try await reopened.gateChanges(limit: 10) == [opened, closed])
        #expect(try await reopened.gateChanges(limit: 1) == [opened])
    }
}
