import Foundation
import RunbookTestSupport
import Logging
import Synchronization
import RunbookFlows
import RunbookSQLite
import RunbookZMQ
import Testing

@Suite(.serialized) struct TelemetryBridgeTests {
    @Test func everyTickComesOutUnchangedAndIsCountedBySymbol() async throws {
        let harness = try FlowHarness()
        let bridge = TelemetryBridge(input: "tcp://127.0.0.1:*", output: "tcp://127.0.0.1:*", store: harness.records.flows, logger: FlowHarness.logger)
        let endpoints = try harness.start(bridge)
        let sub = try harness.socket(.sub, connect: endpoints[1])
        let push = try harness.socket(.push, connect: endpoints[0])
        try await Task.sleep(for: .milliseconds(300))

        let sent = (0..<2000).map { tick($0 % 2 == 0 ? "EURUSD" : "GBPUSD", $0) }
        for frame in sent { try push.send(frame) }
        var received: [String] = []
        while received.count < sent.count, let parts = try sub.receive() { received.append(String(decoding: parts[0], as: UTF8.self)) }
        #expect(received == sent)
        #expect(await eventually { bridge.counters.snapshot.ticksBySymbol == ["EURUSD": 1000, "GBPUSD": 1000] })
        await harness.stop()
    }

    @Test func badFramesAreCountedAndDroppedWhileTicksFlowOn() async throws {
        let harness = try FlowHarness()
        let bridge = TelemetryBridge(input: "tcp://127.0.0.1:*", output: "tcp://127.0.0.1:*", store: harness.records.flows, logger: FlowHarness.logger)
        let endpoints = try harness.start(bridge)
        let sub = try harness.socket(.sub, connect: endpoints[1])
        let push = try harness.socket(.push, connect: endpoints[0])
        try await Task.sleep(for: .milliseconds(300))

        let bad = [
            "garbage \u{1}\u{2}", #"{"type":"tick","symbol":"EURU"#, #"{"type":"tick","symbol":"EURUSD","bid":"high","ask":1.1,"time_msc":1}"#,
            #"{"symbol":"EURUSD"}"#, #"{"type":"weather"}"#, "[1,2,3]", "{" + String(repeating: "x", count: 100_000) + "}",
            #"{"type":"heartbeat","account":"5012345"}"#,
        ]
        for frame in bad { try push.send(frame) }
        try push.send(parts: [Array(tick("EURUSD", 0).utf8), Array("garbage".utf8)])
        try push.send(tick("EURUSD", 1))
        try push.send(#"{"type":"heartbeat","target_uuid":"ea-07","account":"5012345","time_msc":1}"#)

        let first = try #require(try sub.receive())
        #expect(String(decoding: first[0], as: UTF8.self) == tick("EURUSD", 1))
        #expect(await eventually { bridge.counters.snapshot.malformedTotal == bad.count + 1 })
        let malformed = bridge.counters.snapshot.malformed
        #expect(malformed["not_json"] == 2)
        #expect(malformed["wrong_type"] == 1)
        #expect(malformed["missing_type"] == 1)
        #expect(malformed["unknown_type"] == 1)
        #expect(malformed["not_object"] == 1)
        #expect(malformed["too_large"] == 1)
        #expect(malformed["missing_field"] == 1)
        #expect(malformed["multipart"] == 1)
        #expect(await eventually { (try? harness.records.flows.lastHeartbeat(of: "ea-07")) != nil })
        await harness.stop()
    }
}

@Suite(.serialized) struct BridgeBackpressureTests {
    @Test func aBackedUpConsumerHoldsTicksBackWithoutLosingAny() async throws {
        let harness = try FlowHarness()
        let backedUp = Atomic<Bool>(true)
        let bridge = TelemetryBridge(
            input: "tcp://127.0.0.1:*", output: "tcp://127.0.0.1:*", store: nil, logger: FlowHarness.logger,
            isBackedUp: { backedUp.load(ordering: .relaxed) }
        )
        let endpoints = try harness.start(bridge)
        let sub = try harness.socket(.sub, connect: endpoints[1])
        let push = try harness.socket(.push, connect: endpoints[0])
        try await Task.sleep(for: .milliseconds(300))
        for n in 0..<200 { try push.send(tick("EURUSD", n)) }
        try await Task.sleep(for: .milliseconds(300))
        #expect(bridge.counters.snapshot.received == 0)
        backedUp.store(false, ordering: .relaxed)
        var received = 0
        while received < 200, try sub.receive() != nil { received += 1 }
        #expect(received == 200)
        // The bridge counts a batch once it has relayed it.
        #expect(await eventually { bridge.counters.snapshot.ticksBySymbol["EURUSD"] == 200 })
        await harness.stop()
    }
}

@Suite(.serialized) struct CommandRouterTests {
    @Test func aFireReachesItsEAAndIsMarkedSent() async throws {
        let harness = try FlowHarness()
        let router = CommandRouter(queue: "tcp://127.0.0.1:*", router: "tcp://127.0.0.1:*", store: harness.records.flows, logger: FlowHarness.logger)
        let endpoints = try harness.start(router)
        let ea = try harness.socket(.dealer, connect: endpoints[1], routingID: "ea-01")
        try ea.send(#"{"type":"heartbeat","target_uuid":"ea-01","account":"5012345","time_msc":1}"#)
        #expect(await eventually { (try? harness.records.flows.lastHeartbeat(of: "ea-01")) != nil })

        let queue = try harness.socket(.push, connect: endpoints[0])
        let fire = #"{"type":"fire","fire_id":"F1","target_uuid":"ea-01","symbol":"EURUSD","direction":"BUY","lot":0.1,"sl":1.0831,"tp":1.0891}"#
        try queue.send(fire)
        let delivered = try #require(try ea.receive())
        #expect(String(decoding: delivered[0], as: UTF8.self) == fire)
        #expect(await eventually { (try? harness.records.flows.fire(id: "F1"))??.status == "SENT" })
        await harness.stop()
    }

    @Test func peersThatNeverSendAHeartbeatShowAsStrays() async throws {
        let harness = try FlowHarness()
        let router = CommandRouter(queue: "tcp://127.0.0.1:*", router: "tcp://127.0.0.1:*", store: harness.records.flows, logger: FlowHarness.logger)
        let endpoints = try harness.start(router)
        let ea = try harness.socket(.dealer, connect: endpoints[1], routingID: "ea-01")
        try ea.send(#"{"type":"heartbeat","target_uuid":"ea-01"}"#)
        let stray = try harness.socket(.dealer, connect: endpoints[1], routingID: "old-instance")
        #expect(await eventually { router.counters.snapshot.peers.map { $0.connected == 2 && $0.identified == 1 } == true })
        stray.close()
        #expect(await eventually { router.counters.snapshot.peers.map { $0.connected == 1 && $0.identified == 1 } == true })
        await harness.stop()
    }

    @Test func aRepeatedFireIDIsNotExecutedAgain() async throws {
        let harness = try FlowHarness()
        let router = CommandRouter(queue: "tcp://127.0.0.1:*", router: "tcp://127.0.0.1:*", store: harness.records.flows, logger: FlowHarness.logger)
        let endpoints = try harness.start(router)
        let ea = try harness.socket(.dealer, connect: endpoints[1], routingID: "ea-01")
        try ea.send(#"{"type":"heartbeat","target_uuid":"ea-01"}"#)
        #expect(await eventually { (try? harness.records.flows.lastHeartbeat(of: "ea-01")) != nil })
        let queue = try harness.socket(.push, connect: endpoints[0])
        let fire = #"{"type":"fire","fire_id":"F1","target_uuid":"ea-01","symbol":"EURUSD","direction":"BUY","lot":0.1}"#
        try queue.send(fire)
        try queue.send(fire)
        #expect(try ea.receive() != nil)
        #expect(await eventually { router.counters.snapshot.malformed["duplicate_fire"] == 1 })
        try ea.setReceiveTimeout(milliseconds: 300)
        #expect(try ea.receive() == nil)
        await harness.stop()
    }

    @Test func aFireForAnEAThatIsNotConnectedFailsAtOnceWithTheReason() async throws {
        let harness = try FlowHarness()
        let router = CommandRouter(queue: "tcp://127.0.0.1:*", router: "tcp://127.0.0.1:*", store: harness.records.flows, logger: FlowHarness.logger)
        let endpoints = try harness.start(router)
        let queue = try harness.socket(.push, connect: endpoints[0])
        try queue.send(#"{"type":"fire","fire_id":"F9","target_uuid":"ea-99","symbol":"EURUSD","direction":"SELL","lot":0.2}"#)
        #expect(await eventually { (try? harness.records.flows.fire(id: "F9"))??.status == "FAILED" })
        let fire = try #require(try harness.records.flows.fire(id: "F9"))
        #expect(fire.error == "EA ea-99 is not connected to tcp://127.0.0.1:*")
        await harness.stop()
    }

    @Test func probesAreRecordedAndNeverSentAndJunkIsCounted() async throws {
        let harness = try FlowHarness()
        let router = CommandRouter(queue: "tcp://127.0.0.1:*", router: "tcp://127.0.0.1:*", store: harness.records.flows, logger: FlowHarness.logger)
        let endpoints = try harness.start(router)
        let ea = try harness.socket(.dealer, connect: endpoints[1], routingID: "ea-01")
        try ea.send(#"{"type":"heartbeat","target_uuid":"ea-01"}"#)
        try ea.send("not json at all")
        let queue = try harness.socket(.push, connect: endpoints[0])
        try queue.send(#"{"type":"test","probe_id":"P1"}"#)
        try queue.send(#"{"type":"fire","fire_id":"F2","target_uuid":"ea-01","symbol":"EURUSD","direction":"UP","lot":0.1}"#)
        try queue.send(#"{"type":"fire","fire_id":"F3"}"#)
        #expect(await eventually { (try? harness.records.flows.count("probes")) == 1 })
        #expect(await eventually { router.counters.snapshot.malformedTotal == 3 })
        #expect(router.counters.snapshot.malformed == ["not_json": 1, "wrong_type": 1, "missing_field": 1])
        try ea.setReceiveTimeout(milliseconds: 300)
        #expect(try ea.receive() == nil)
        #expect(try harness.records.flows.count("fires") == 0)
        await harness.stop()
    }
}

@Suite(.serialized) struct ConfirmationListenerTests {
    @Test func confirmationsFillFiresAndClosesBecomeTrades() async throws {
        let harness = try FlowHarness()
        #expect(try harness.records.flows.recordFireQueued(.init(id: "F1", target: "ea-01", symbol: "EURUSD", direction: "BUY", lot: 0.1), at: Date()))
        #expect(try harness.records.flows.recordFireQueued(.init(id: "F2", target: "ea-01", symbol: "GBPUSD", direction: "SELL", lot: 0.1), at: Date()))
        let listener = ConfirmationListener(input: "tcp://127.0.0.1:*", store: harness.records.flows, logger: FlowHarness.logger)
        let endpoints = try harness.start(listener)
        let push = try harness.socket(.push, connect: endpoints[0])
        try push.send(#"{"type":"confirmation","fire_id":"F1","status":"filled","ticket":123,"price":1.0852,"time_msc":1}"#)
        try push.send(#"{"type":"confirmation","fire_id":"F2","status":"failed","error":"market closed"}"#)
        try push.send(#"{"type":"close","fire_id":"F1","ticket":123,"exit_price":1.088,"pnl":28.0,"time_msc":2}"#)
        try push.send(#"{"type":"confirmation","fire_id":"F404","status":"filled"}"#)
        try push.send(#"{"type":"close","fire_id":"F1","pnl":"lots"}"#)
        try push.send(#"{"type":"confirmation","fire_id":"F2","status":"filled","ticket":999}"#)
        #expect(await eventually { listener.counters.snapshot.received == 6 })
        #expect(await eventually { (try? harness.records.flows.tradesPnL()) == [28.0] })
        let filled = try #require(try harness.records.flows.fire(id: "F1"))
        #expect(filled.status == "FILLED" && filled.ticket == 123 && filled.price == 1.0852)
        let failed = try #require(try harness.records.flows.fire(id: "F2"))
        #expect(failed.status == "FAILED" && failed.error == "market closed")
        #expect(await eventually { listener.counters.snapshot.malformed == ["unknown_fire": 1, "wrong_type": 1, "fire_already_final": 1] })
        #expect(try harness.records.flows.fire(id: "F2")?.status == "FAILED")
        await harness.stop()
    }
}

@Suite(.serialized) struct HugeFrameTests {
    static let huge = "{\"type\":\"fire\",\"pad\":\"" + String(repeating: "x", count: 200_000) + "\"}"

    @Test func hugeFramesOnEveryPortOfTheRouterAndListenerAreCountedAndTheFlowsGoOn() async throws {
        let harness = try FlowHarness()
        let router = CommandRouter(queue: "tcp://127.0.0.1:*", router: "tcp://127.0.0.1:*", store: harness.records.flows, logger: FlowHarness.logger)
        let routerEndpoints = try harness.start(router)
        let listener = ConfirmationListener(input: "tcp://127.0.0.1:*", store: harness.records.flows, logger: FlowHarness.logger)
        let listenerEndpoints = try harness.start(listener)

        let queue = try harness.socket(.push, connect: routerEndpoints[0])
        let ea = try harness.socket(.dealer, connect: routerEndpoints[1], routingID: "ea-01")
        let confirmations = try harness.socket(.push, connect: listenerEndpoints[0])
        try queue.send(Self.huge)
        try ea.send(Self.huge)
        try confirmations.send(Self.huge)

        try queue.send(#"{"type":"test","probe_id":"after"}"#)
        try ea.send(#"{"type":"heartbeat","target_uuid":"ea-01"}"#)
        #expect(await eventually { (try? harness.records.flows.count("probes")) == 1 && (try? harness.records.flows.lastHeartbeat(of: "ea-01")) != nil })
        #expect(await eventually { router.counters.snapshot.malformed["too_large"] == 2 })
        #expect(await eventually { listener.counters.snapshot.malformed["too_large"] == 1 })
        await harness.stop()
    }
}

@Suite(.serialized) struct SignalRelayTests {
    @Test func signalsAreRecordedAndForwardedAndJunkIsCountedAndLoggedAtMostOnceASecond() async throws {
        let harness = try FlowHarness()
        let engine = try ZMQSocket(harness.context, .pub)
        try engine.bind("tcp://127.0.0.1:*")
        let forwarded = Mutex<[String]>([])
        let captured = CapturedLog()
        let relay = SignalRelay(source: engine.lastEndpoint!, store: harness.records.flows, logger: Logger(label: "test") { _ in captured }) { signal in
            forwarded.withLock { $0.append(signal.id) }
        }
        try harness.start(relay)
        try await Task.sleep(for: .milliseconds(300))
        try engine.send(#"{"type":"signal","signal_id":"S1","symbol":"EURUSD","direction":"BUY","entry":1.0851,"sl":1.0831,"tp":1.0891,"confidence":78,"time_msc":1}"#)
        for _ in 0..<50 { try engine.send("{not json") }
        try engine.send(#"{"type":"signal","signal_id":"S2","symbol":"GBPUSD","direction":"SIDEWAYS"}"#)
        try engine.send(#"{"type":"signal","signal_id":"S3","symbol":"GBPUSD","direction":"sell"}"#)
        #expect(await eventually { (try? harness.records.flows.count("signals")) == 2 })
        #expect(await eventually { forwarded.withLock { $0 } == ["S1", "S3"] })
        #expect(relay.counters.snapshot.malformed == ["not_json": 50, "wrong_type": 1])
        let warnings = captured.messages.filter { $0.hasPrefix("dropped a malformed message") }
        #expect(warnings.count >= 1 && warnings.count <= 2, "\(warnings.count) warnings for 51 bad messages within a second")
        await harness.stop()
    }
}
