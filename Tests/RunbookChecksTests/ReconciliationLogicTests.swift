import Foundation
import RunbookCore
import Testing

/// Reconciliation and exposure as pure functions of what the records hold: each finding for its
/// own cause, none without one.
@Suite struct ReconciliationLogicTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)

    func fill(_ id: String, ticket: Int64?, ago: TimeInterval, ea: String = "ea-01", lots: Double = 0.1) -> OpenFill {
        OpenFill(fireID: id, ea: ea, symbol: "EURUSD", lots: lots, ticket: ticket, filledAt: now.addingTimeInterval(-ago))
    }

    func report(_ tickets: [Int64], ago: TimeInterval = 10, ea: String = "ea-01") -> PositionReport {
        PositionReport(ea: ea, at: now.addingTimeInterval(-ago), positions: tickets.map { Position(ticket: $0, symbol: "EURUSD", lots: 0.1) })
    }

    func kinds(_ findings: [Reconciliation.Finding]) -> [Reconciliation.Finding.Kind] { findings.map(\.kind) }

    @Test func agreeingRecordsFindNothing() {
        let fills = [fill("F1", ticket: 1, ago: 60), fill("F2", ticket: 2, ago: 60), fill("canary-ea-01-1", ticket: 3, ago: 90_000)]
        #expect(Reconciliation.findings(fills: fills, unanswered: [], unmatched: [], reports: [report([1, 2, 3])], now: now).isEmpty)
        #expect(Reconciliation.findings(fills: fills, unanswered: [], unmatched: [], reports: [], now: now).isEmpty, "no report: nothing to compare")
    }

    @Test func eachCauseGivesItsFinding() {
        let old = Reconciliation.findings(fills: [fill("F1", ticket: 1, ago: 90_000), fill("F2", ticket: 2, ago: 60)], unanswered: [], unmatched: [], reports: [], now: now)
        #expect(old.map(\.text) == ["ea-01: 1 fill(s) with no close: ticket 1 (fire F1)"])

        let unmatched = [UnmatchedAnswer(kind: .close, fireID: "ghost", ticket: 77, at: now.addingTimeInterval(-60)), UnmatchedAnswer(kind: .confirmation, fireID: "old", ticket: nil, at: now.addingTimeInterval(-7200))]
        #expect(Reconciliation.findings(fills: [], unanswered: [], unmatched: unmatched, reports: [], now: now).map(\.text) == ["1 answer(s) for fires never queued: close for ghost (ticket 77)"])

        let silent = [UnansweredFire(fireID: "F9", ea: "ea-02", sentAt: now.addingTimeInterval(-300)), UnansweredFire(fireID: "F10", ea: "ea-02", sentAt: now.addingTimeInterval(-30))]
        #expect(Reconciliation.findings(fills: [], unanswered: silent, unmatched: [], reports: [], now: now).map(\.text) == ["ea-02: 1 fire(s) sent with no confirmation: fire F9"])

        let fills = [fill("F1", ticket: 1, ago: 60), fill("F2", ticket: 2, ago: 60), fill("F3", ticket: 3, ago: 1)]
        let positions = Reconciliation.findings(fills: fills, unanswered: [], unmatched: [], reports: [report([1, 99])], now: now)
        #expect(kinds(positions) == [.unexplainedPosition, .fillNotHeld])
        #expect(positions.map(\.text) == ["ea-01: 1 position(s) no fire explains: ticket 99 (EURUSD 0.1 lots)", "ea-01: 1 fill(s) the EA no longer holds: ticket 2 (fire F2)"], "F3 came after the report")
    }

    @Test func aStaleReportOrAnotherEAsFillsAreNotCompared() {
        let fills = [fill("F1", ticket: 1, ago: 900), fill("F2", ticket: 2, ago: 60, ea: "ea-02")]
        #expect(Reconciliation.findings(fills: fills, unanswered: [], unmatched: [], reports: [report([99], ago: 600)], now: now).isEmpty, "a report 10 min old")
        let other = Reconciliation.findings(fills: fills, unanswered: [], unmatched: [], reports: [report([1])], now: now)
        #expect(other.isEmpty, "ea-02's fill is not ea-01's to hold: \(other)")
    }

    @Test func exposureIsTheReportWhereCurrentOtherwiseFillsMinusCloses() {
        let fills = [fill("F1", ticket: 1, ago: 60, lots: 0.5), fill("F2", ticket: 2, ago: 60, lots: 0.7), fill("canary-ea-01-1", ticket: 3, ago: 60, lots: 0.01),
                     fill("F4", ticket: 4, ago: 60, ea: "ea-02", lots: 0.2)]
        let fromFills = Exposure.of(fills: fills, reports: [])
        #expect(fromFills == [Exposure(ea: "ea-01", positions: 2, lots: 1.2, fromReport: false), Exposure(ea: "ea-02", positions: 1, lots: 0.2, fromReport: false)])
        #expect(fromFills.first?.text == "2 open positions, 1.2 lots")
        // A report newer than the EA's fills is what it holds; an older one is not.
        let reported = Exposure.of(fills: fills, reports: [report([1, 2, 5], ago: 10), report([], ago: 120, ea: "ea-02")])
        #expect(reported == [Exposure(ea: "ea-01", positions: 3, lots: 0.3, fromReport: true), Exposure(ea: "ea-02", positions: 1, lots: 0.2, fromReport: false)])
        #expect(Exposure.of(fills: [], reports: [report([], ago: 10)]).isEmpty, "flat")
    }
}
