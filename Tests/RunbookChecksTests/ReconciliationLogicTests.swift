import Foundation
import RunbookCore
import Testing

/// Reconciliation and exposure as pure functions of what the records hold: each finding for its
/// own cause, none without one, and none for the races of a live account.
@Suite struct ReconciliationLogicTests {
    let now = Date(timeIntervalSince1970: 1_800_000_000)
    typealias Facts = Reconciliation.Facts

    func fill(_ id: String, ticket: Int64?, ago: TimeInterval, ea: String = "ea-01", lots: Double = 0.1, symbol: String = "EURUSD") -> OpenFill {
        OpenFill(fireID: id, ea: ea, symbol: symbol, lots: lots, ticket: ticket, filledAt: now.addingTimeInterval(-ago))
    }

    func report(_ tickets: [Int64], ago: TimeInterval = 10, ea: String = "ea-01") -> PositionReport {
        PositionReport(ea: ea, at: now.addingTimeInterval(-ago), positions: tickets.map { Position(ticket: $0, symbol: "EURUSD", lots: 0.1) })
    }

    func texts(_ facts: Facts) -> [String] { Reconciliation.findings(facts, now: now).map(\.text) }

    @Test func agreeingRecordsFindNothing() {
        let fills = [fill("F1", ticket: 1, ago: 60), fill("F2", ticket: 2, ago: 60), fill("canary-ea-01-1", ticket: 3, ago: 90_000)]
        #expect(texts(Facts(open: fills, reports: [report([1, 2, 3])])).isEmpty)
        #expect(texts(Facts(open: fills)).isEmpty, "no report: nothing to compare")
    }

    @Test func eachCauseGivesItsFinding() {
        let old = Reconciliation.findings(Facts(open: [fill("F1", ticket: 1, ago: 90_000), fill("F2", ticket: 2, ago: 60)]), now: now)
        #expect(old.map(\.text) == ["ea-01: 1 fill(s) with no close: ticket 1 (fire F1)"])
        #expect(old.allSatisfy { $0.isWarning }, "a trade may be held for days: a warning")

        let unmatched = [
            UnmatchedAnswer(kind: .close, fireID: "ghost", ticket: 77, at: now.addingTimeInterval(-60)),
            UnmatchedAnswer(kind: .confirmation, fireID: "old", ticket: nil, at: now.addingTimeInterval(-7200)),
        ]
        #expect(texts(Facts(unmatched: unmatched)) == ["1 answer(s) for fires never queued: close for ghost (ticket 77)"])

        let sent = [
            UnansweredFire(fireID: "F9", ea: "ea-02", symbol: "EURUSD", sentAt: now.addingTimeInterval(-300)),
            UnansweredFire(fireID: "F10", ea: "ea-02", symbol: "EURUSD", sentAt: now.addingTimeInterval(-30)),
        ]
        #expect(texts(Facts(sent: sent)) == ["ea-02: 1 fire(s) sent with no confirmation: fire F9"])

        let fills = [fill("F1", ticket: 1, ago: 60), fill("F2", ticket: 2, ago: 60), fill("F3", ticket: 3, ago: 1)]
        let positions = Reconciliation.findings(Facts(open: fills, reports: [report([1, 99])]), now: now)
        #expect(positions.map(\.kind) == [.unexplainedPosition, .fillNotHeld] && !positions.contains { $0.isWarning })
        #expect(positions.map(\.text) == ["ea-01: 1 position(s) no fire explains: ticket 99 (EURUSD 0.1 lots)", "ea-01: 1 fill(s) the EA no longer holds: ticket 2 (fire F2)"], "F3 came after the report")
    }

    @Test func theRacesOfALiveAccountFindNothing() {
        // Closed after the EA reported it: still held when it reported.
        let closed = [ClosedFill(fireID: "F2", ea: "ea-01", ticket: 2, closedAt: now.addingTimeInterval(-5))]
        #expect(texts(Facts(open: [fill("F1", ticket: 1, ago: 60)], closed: closed, reports: [report([1, 2], ago: 10)])).isEmpty)
        // Closed before the report, and still reported: that is a finding.
        let early = [ClosedFill(fireID: "F2", ea: "ea-01", ticket: 2, closedAt: now.addingTimeInterval(-20))]
        #expect(texts(Facts(open: [fill("F1", ticket: 1, ago: 60)], closed: early, reports: [report([1, 2], ago: 10)])) == ["ea-01: 1 position(s) no fire explains: ticket 2 (EURUSD 0.1 lots)"])
        // Opened and reported before its confirmation arrived.
        let onItsWay = [UnansweredFire(fireID: "F3", ea: "ea-01", symbol: "EURUSD", sentAt: now.addingTimeInterval(-12))]
        #expect(texts(Facts(sent: onItsWay, reports: [report([3], ago: 10)])).isEmpty)
        // One fire on its way explains one position of its symbol, not two.
        #expect(texts(Facts(sent: onItsWay, reports: [report([3, 4], ago: 10)])) == ["ea-01: 1 position(s) no fire explains: ticket 4 (EURUSD 0.1 lots)"])
    }

    @Test func aFillWithoutATicketIsMatchedBySymbolAndLots() {
        let ticketless = fill("F5", ticket: nil, ago: 60)
        #expect(texts(Facts(open: [ticketless], reports: [report([42])])).isEmpty, "EURUSD 0.1 lots is held")
        #expect(texts(Facts(open: [ticketless], reports: [report([])])) == ["ea-01: 1 fill(s) the EA no longer holds: fire F5 (no ticket)"])
        let gold = fill("F6", ticket: nil, ago: 60, lots: 0.1, symbol: "XAUUSD")
        #expect(texts(Facts(open: [gold], reports: [report([42])])) == [
            "ea-01: 1 position(s) no fire explains: ticket 42 (EURUSD 0.1 lots)", "ea-01: 1 fill(s) the EA no longer holds: fire F6 (no ticket)",
        ])
    }

    @Test func aStaleReportOrAnotherEAsFillsAreNotComparedAndNamesAreShownPrintable() {
        let fills = [fill("F1", ticket: 1, ago: 900), fill("F2", ticket: 2, ago: 60, ea: "ea-02")]
        #expect(texts(Facts(open: fills, reports: [report([99], ago: 600)])).isEmpty, "a report 10 min old")
        #expect(texts(Facts(open: fills, reports: [report([1])])).isEmpty, "ea-02's fill is not ea-01's to hold")
        let forged = [UnmatchedAnswer(kind: .close, fireID: "x\n\u{202E}y", ticket: nil, at: now)]
        #expect(texts(Facts(unmatched: forged)) == ["1 answer(s) for fires never queued: close for x??y"])
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
