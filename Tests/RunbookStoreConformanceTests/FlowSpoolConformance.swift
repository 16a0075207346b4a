import Foundation
import Logging
import RunbookCore
import RunbookTestSupport
import Testing

@testable import RunbookFlows

/// The flows' records a killed engine left in its spool, written by the next start on each backend.
@Suite struct FlowSpoolConformance {
    @Test(arguments: RecordsBackend.allCases)
    func aSpoolLeftByAKilledEngineIsWrittenInOrderAndAnUnreadableLineIsKeptAside(_ backend: RecordsBackend) async throws {
        let place = try await RecordsPlace(backend)
        defer { place.remove() }
        let records = try await place.open()
        let path = place.folder.appendingPathComponent("flow-records.spool").path
        let at = Date()
        let fire = FlowMessage.Fire(id: "F1", target: "ea-01", symbol: "EURUSD", direction: "BUY", lot: 0.1)
        let spool = try FlowRecordSpool(path: path)
        try spool.append(.fireQueued(fire, at: at))
        // A line of a newer version, or damaged on disk.
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(#"{"unknown":{}}"#.utf8 + [0x0A]))
        try handle.close()
        try spool.append(.confirmation(FlowMessage.Confirmation(fireID: "F1", filled: true, ticket: 7, price: 1.0852, error: nil, timeMsc: nil), at: at))
        try spool.append(.signal(FlowMessage.Signal(id: "S1", symbol: "EURUSD", direction: "BUY", entry: nil, stopLoss: nil, takeProfit: nil, confidence: nil, timeMsc: nil, raw: "{}"), at: at))
        let held = [Position(ticket: 7, symbol: "EURUSD", lots: 0.1)]
        try spool.append(.positions(FlowMessage.Positions(target: "ea-01", positions: held, timeMsc: 1), at: at))

        var quiet = Logger(label: "test")
        quiet.logLevel = .critical
        let store = try SpoolingFlowStore(records.flows, spoolPath: path, retry: .milliseconds(50), logger: quiet) { _ in false }
        defer { store.close() }
        // The web app retrying the spooled fire: not new, whether or not the spool is written yet.
        #expect(try store.recordFireQueued(fire, at: at) == false)
        #expect(try store.fireTarget(id: "F1") == "ea-01")
        #expect(await eventually(within: .seconds(10)) { store.counts.waiting == 0 })
        #expect(store.counts.replayed == 4 && store.counts.refused == 1)
        #expect(try await records.flows.positionReports() == [PositionReport(ea: "ea-01", at: records.flows.positionReports().first?.at ?? at, positions: held)])
        #expect(abs((try await records.flows.positionReports().first?.at ?? .distantPast).timeIntervalSince(at)) < 0.002, "with the time it arrived")
        let day = DateInterval(start: at.addingTimeInterval(-60), end: at.addingTimeInterval(60))
        #expect(try await records.flows.count(of: .confirmation, in: day) == 1, "the fire was queued before its confirmation was written")
        #expect(try await records.flows.count(of: .signal, in: day) == 1)
        #expect(try await records.flows.queuedFires().count == 0)
        #expect(try String(contentsOfFile: spool.refusedPath, encoding: .utf8) == #"{"unknown":{}}"# + "\n")
        // Written once: the store answers from now on.
        #expect(try store.recordFireQueued(FlowMessage.Fire(id: "F2", target: "ea-01", symbol: "EURUSD", direction: "SELL", lot: 0.2), at: at))
        #expect(try await records.flows.count(of: .fire, in: day) == 2)
    }
}
