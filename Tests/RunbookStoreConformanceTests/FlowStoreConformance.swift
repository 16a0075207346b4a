import Foundation
import RunbookChecks
import RunbookCore
import RunbookFlows
import Testing

/// What every FlowStore must keep of the flows, and what it answers as HealthRecords to probes.
@Suite struct FlowStoreConformance {
    func message(_ json: String) throws -> FlowMessage { try FlowMessage.parse(json) }

    func confirmation(_ json: String) throws -> FlowMessage.Confirmation {
        guard case .confirmation(let confirmation) = try message(json) else { throw Unexpected(json) }
        return confirmation
    }

    func close(_ json: String) throws -> FlowMessage.Close {
        guard case .close(let close) = try message(json) else { throw Unexpected(json) }
        return close
    }

    func signal(_ id: String) throws -> FlowMessage.Signal {
        guard case .signal(let signal) = try message(#"{"type":"signal","signal_id":"\#(id)","symbol":"EURUSD","direction":"BUY"}"#) else { throw Unexpected(id) }
        return signal
    }

    func fire(_ id: String, to target: String = "ea-01", symbol: String = "EURUSD") -> FlowMessage.Fire {
        FlowMessage.Fire(id: id, target: target, symbol: symbol, direction: "BUY", lot: 0.1, stopLoss: 1.08, takeProfit: 1.09)
    }

    struct Unexpected: Error {
        let text: String
        init(_ text: String) { self.text = text }
    }

    @Test(arguments: RecordsBackend.allCases)
    func heartbeatsKeepEachEAsLatestTime(_ backend: RecordsBackend) async throws {
        let place = try await RecordsPlace(backend)
        defer { place.remove() }
        let flows = try await place.open().flows
        try await onFlowThread { try flows.recordHeartbeats(target: "ea-02", account: "7001", at: At.seconds(10), count: 3) }
        try await onFlowThread { try flows.recordHeartbeats(target: "ea-01", account: nil, at: At.seconds(20), count: 1) }
        // A late batch does not move an EA's last heartbeat back.
        try await onFlowThread { try flows.recordHeartbeats(target: "ea-02", account: nil, at: At.seconds(5), count: 1) }
        let beats = try await flows.heartbeats()
        #expect(beats.map(\.ea) == ["ea-01", "ea-02"])
        #expect(beats.map(\.lastSeen) == [At.seconds(20), At.seconds(10)])
    }

    @Test(arguments: RecordsBackend.allCases)
    func canaryFiresAreNoTradingInRatesWinRatesOrTheQueue(_ backend: RecordsBackend) async throws {
        let place = try await RecordsPlace(backend)
        defer { place.remove() }
        let flows = try await place.open().flows
        for id in ["F1", "canary-ea-01-1", "canary-ea-01-2"] {
            #expect(try await onFlowThread { try flows.recordFireQueued(fire(id), at: At.seconds(1)) })
        }
        try await onFlowThread { _ = try flows.recordConfirmation(try confirmation(#"{"type":"confirmation","fire_id":"canary-ea-01-1","status":"filled","ticket":9}"#), at: At.seconds(2)) }
        try await onFlowThread { _ = try flows.recordClose(try close(#"{"type":"close","fire_id":"canary-ea-01-1","pnl":-3.5}"#), at: At.seconds(3)) }
        let all = DateInterval(start: At.seconds(0), end: At.seconds(10))
        #expect(try await flows.count(of: .fire, in: all) == 1)
        #expect(try await flows.count(of: .confirmation, in: all) == 0)
        #expect(try await flows.count(of: .trade, in: all) == 0)
        #expect(try await flows.recentTrades(limit: 10).isEmpty, "a canary's close is no trade for the win rates")
        #expect(try await flows.queuedFires().count == 1, "a canary waiting is no queue depth")
        #expect(try await flows.fireOutcome(id: "canary-ea-01-1")?.status == "FILLED", "the canary itself is recorded")
    }

    @Test(arguments: RecordsBackend.allCases)
    func aFireIsQueuedOnceSentAndConfirmedOnce(_ backend: RecordsBackend) async throws {
        let place = try await RecordsPlace(backend)
        defer { place.remove() }
        let flows = try await place.open().flows
        #expect(try await onFlowThread { try flows.recordFireQueued(fire("F1"), at: At.seconds(1)) })
        #expect(!(try await onFlowThread { try flows.recordFireQueued(fire("F1"), at: At.seconds(2)) }), "a fire id is queued once")
        #expect(try await onFlowThread { try flows.recordFireQueued(fire("F2", to: "ea-02"), at: At.seconds(3)) })
        #expect(try await onFlowThread { try flows.fireTarget(id: "F2") } == "ea-02")
        #expect(try await onFlowThread { try flows.fireTarget(id: "F9") } == nil)
        var queued = try await flows.queuedFires()
        #expect(queued.count == 2)
        #expect(queued.oldest == At.seconds(1))

        try await onFlowThread { try flows.recordFireSent(id: "F1", at: At.seconds(4)) }
        queued = try await flows.queuedFires()
        #expect(queued.count == 1)
        #expect(queued.oldest == At.seconds(3))

        let filled = try confirmation(#"{"type":"confirmation","fire_id":"F1","status":"filled","ticket":123,"price":1.0852}"#)
        #expect(try await onFlowThread { try flows.recordConfirmation(filled, at: At.seconds(5)) } == .applied)
        #expect(try await onFlowThread { try flows.recordConfirmation(filled, at: At.seconds(6)) } == .alreadyFinal, "a repeated confirmation changes nothing")
        let unknown = try confirmation(#"{"type":"confirmation","fire_id":"F7","status":"filled"}"#)
        #expect(try await onFlowThread { try flows.recordConfirmation(unknown, at: At.seconds(6)) } == .unknownFire)
        #expect(try await flows.lastArrival(of: .confirmation) == At.seconds(5))

        try await onFlowThread { try flows.recordFireFailed(id: "F2", reason: "gate closed", at: At.seconds(7)) }
        let late = try confirmation(#"{"type":"confirmation","fire_id":"F2","status":"filled"}"#)
        #expect(try await onFlowThread { try flows.recordConfirmation(late, at: At.seconds(8)) } == .alreadyFinal, "a failed fire stays failed")
        #expect(try await flows.queuedFires().count == 0)
    }

    @Test(arguments: RecordsBackend.allCases)
    func aCloseCountsOnlyForAKnownFireAndShowsInRecentTrades(_ backend: RecordsBackend) async throws {
        let place = try await RecordsPlace(backend)
        defer { place.remove() }
        let flows = try await place.open().flows
        #expect(!(try await onFlowThread { try flows.recordClose(close(#"{"type":"close","fire_id":"F404","pnl":5}"#), at: At.seconds(1)) }))
        _ = try await onFlowThread { try flows.recordFireQueued(fire("F1", symbol: "XAUUSD"), at: At.seconds(1)) }
        _ = try await onFlowThread { try flows.recordFireQueued(fire("F2", symbol: "EURUSD"), at: At.seconds(2)) }
        #expect(try await onFlowThread { try flows.recordClose(close(#"{"type":"close","fire_id":"F1","pnl":-3.5,"ticket":9}"#), at: At.seconds(10)) })
        #expect(try await onFlowThread { try flows.recordClose(close(#"{"type":"close","fire_id":"F2","pnl":12}"#), at: At.seconds(20)) })
        let trades = try await flows.recentTrades(limit: 10)
        #expect(trades == [ClosedTrade(symbol: "EURUSD", pnl: 12, closedAt: At.seconds(20)), ClosedTrade(symbol: "XAUUSD", pnl: -3.5, closedAt: At.seconds(10))])
        #expect(try await flows.recentTrades(limit: 1).count == 1)
        #expect(try await flows.lastArrival(of: .trade) == At.seconds(20))
    }

    @Test(arguments: RecordsBackend.allCases)
    func openFillsUnansweredFiresUnknownAnswersAndPositionReportsAreKeptForReconciliation(_ backend: RecordsBackend) async throws {
        let place = try await RecordsPlace(backend)
        defer { place.remove() }
        let flows = try await place.open().flows
        for (id, target) in [("F1", "ea-01"), ("F2", "ea-01"), ("F3", "ea-02"), ("F4", "ea-02"), ("canary-ea-01-1", "ea-01"), ("F5", "ea-02"), ("CANARY-X", "ea-02")] {
            _ = try await onFlowThread { try flows.recordFireQueued(fire(id, to: target), at: At.seconds(1)) }
            try await onFlowThread { try flows.recordFireSent(id: id, at: At.seconds(2)) }
        }
        for (id, ticket) in [("F1", 501), ("F2", 502), ("canary-ea-01-1", 503)] {
            let filled = try confirmation(#"{"type":"confirmation","fire_id":"\#(id)","status":"filled","ticket":\#(ticket)}"#)
            #expect(try await onFlowThread { try flows.recordConfirmation(filled, at: At.seconds(3)) } == .applied)
        }
        #expect(try await onFlowThread { try flows.recordClose(close(#"{"type":"close","fire_id":"F2","pnl":4,"ticket":502}"#), at: At.seconds(4)) })
        try await onFlowThread { try flows.recordFireFailed(id: "F4", reason: "requote", at: At.seconds(4)) }
        // Its confirmation lost, its close recorded: answered.
        #expect(try await onFlowThread { try flows.recordClose(close(#"{"type":"close","fire_id":"F5","pnl":1,"ticket":505}"#), at: At.seconds(4)) })
        // Answers for fires never queued are refused and kept.
        #expect(!(try await onFlowThread { try flows.recordClose(close(#"{"type":"close","fire_id":"ghost","pnl":1,"ticket":777}"#), at: At.seconds(5)) }))
        // Written again from a spool: the same answer, kept once.
        #expect(!(try await onFlowThread { try flows.recordClose(close(#"{"type":"close","fire_id":"ghost","pnl":1,"ticket":777}"#), at: At.seconds(5)) }))
        let stray = try confirmation(#"{"type":"confirmation","fire_id":"ghost-2","status":"filled","ticket":778}"#)
        #expect(try await onFlowThread { try flows.recordConfirmation(stray, at: At.seconds(6)) } == .unknownFire)

        #expect(try await flows.openFills(since: At.seconds(0)).map(\.fireID).sorted() == ["F1", "canary-ea-01-1"], "F2 was closed, F3 is not filled, F4 failed")
        #expect(try await flows.openFills(since: At.seconds(0)).first { $0.fireID == "F1" } == OpenFill(fireID: "F1", ea: "ea-01", symbol: "EURUSD", lots: 0.1, ticket: 501, filledAt: At.seconds(3)))
        #expect(try await flows.openFills(since: At.seconds(4)).isEmpty, "older fills are history")
        // Upper-case is no canary (SQLite's LIKE would have read it so).
        #expect(try await flows.unansweredFires(since: At.seconds(0)).map(\.fireID).sorted() == ["CANARY-X", "F3"])
        #expect(try await flows.unansweredFires(since: At.seconds(0)).first { $0.fireID == "F3" } == UnansweredFire(fireID: "F3", ea: "ea-02", symbol: "EURUSD", sentAt: At.seconds(2)))
        #expect(try await flows.unansweredFires(since: At.seconds(3)).isEmpty)
        #expect(try await flows.closedFills(since: At.seconds(0)).sorted { $0.fireID < $1.fireID } == [
            ClosedFill(fireID: "F2", ea: "ea-01", ticket: 502, closedAt: At.seconds(4)), ClosedFill(fireID: "F5", ea: "ea-02", ticket: 505, closedAt: At.seconds(4)),
        ])
        #expect(try await flows.closedFills(since: At.seconds(5)).isEmpty)
        #expect(try await flows.unmatchedAnswers(since: At.seconds(0)) == [
            UnmatchedAnswer(kind: .confirmation, fireID: "ghost-2", ticket: 778, at: At.seconds(6)), UnmatchedAnswer(kind: .close, fireID: "ghost", ticket: 777, at: At.seconds(5)),
        ], "the newest first, each once")
        #expect(try await flows.unmatchedAnswers(since: At.seconds(6)).map(\.fireID) == ["ghost-2"])

        #expect(try await flows.positionReports().isEmpty)
        let report = FlowMessage.Positions(target: "ea-01", positions: [Position(ticket: 501, symbol: "EURUSD", lots: 0.1), Position(ticket: 9, symbol: "XAUUSD", lots: 2)])
        try await onFlowThread { try flows.recordPositions(report, at: At.seconds(20)) }
        try await onFlowThread { try flows.recordPositions(FlowMessage.Positions(target: "ea-02", positions: []), at: At.seconds(21)) }
        // A late report (spooled, replayed) does not replace a newer one.
        try await onFlowThread { try flows.recordPositions(FlowMessage.Positions(target: "ea-01", positions: []), at: At.seconds(15)) }
        #expect(try await flows.positionReports() == [
            PositionReport(ea: "ea-01", at: At.seconds(20), positions: report.positions), PositionReport(ea: "ea-02", at: At.seconds(21), positions: []),
        ])
        try await onFlowThread { try flows.recordPositions(FlowMessage.Positions(target: "ea-01", positions: []), at: At.seconds(30)) }
        #expect(try await place.open().flows.positionReports().first == PositionReport(ea: "ea-01", at: At.seconds(30), positions: []), "the newest replaces it")
    }

    @Test(arguments: RecordsBackend.allCases)
    func arrivalsAreCountedInAnIntervalWithBothEndsIn(_ backend: RecordsBackend) async throws {
        let place = try await RecordsPlace(backend)
        defer { place.remove() }
        let flows = try await place.open().flows
        #expect(try await flows.lastArrival(of: .signal) == nil)
        for (index, offset) in [0.0, 60, 120, 180].enumerated() { try await onFlowThread { try flows.recordSignal(signal("S\(index)"), at: At.seconds(offset)) } }
        #expect(try await flows.count(of: .signal, in: DateInterval(start: At.seconds(60), end: At.seconds(120))) == 2)
        #expect(try await flows.count(of: .signal, in: DateInterval(start: At.seconds(61), end: At.seconds(179))) == 1)
        #expect(try await flows.count(of: .fire, in: DateInterval(start: At.seconds(0), end: At.seconds(180))) == 0)
        #expect(try await flows.lastArrival(of: .signal) == At.seconds(180))
    }

    @Test(arguments: RecordsBackend.allCases)
    func aTestProbeIsSeenWhenTheRouterRecordsIt(_ backend: RecordsBackend) async throws {
        let place = try await RecordsPlace(backend)
        defer { place.remove() }
        let flows = try await place.open().flows
        #expect(try await flows.probeArrival(id: "probe-1") == nil)
        try await onFlowThread { try flows.recordProbe(id: "probe-1", at: At.seconds(3)) }
        try await onFlowThread { try flows.recordProbe(id: "probe-1", at: At.seconds(9)) }
        #expect(try await flows.probeArrival(id: "probe-1") == At.seconds(3), "the first arrival counts")
        // Another process (the engine) wrote it; a new reader sees it.
        #expect(try await place.open().flows.probeArrival(id: "probe-1") == At.seconds(3))
    }
}
