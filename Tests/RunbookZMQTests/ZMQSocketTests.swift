import Foundation
import RunbookZMQ
import Testing

@Suite struct ZMQSocketTests {
    let context = try! ZMQContext()

    @Test func pushPullCarriesFramesUnchanged() throws {
        let pull = try ZMQSocket(context, .pull)
        try pull.bind("tcp://127.0.0.1:*")
        let endpoint = try #require(pull.lastEndpoint)
        #expect(ZMQSocket.port(of: endpoint).map { $0 > 0 } == true)
        let push = try ZMQSocket(context, .push)
        try push.connect(endpoint)
        let frame = Array(#"{"type":"tick","symbol":"EURUSD","bid":1.08512}"#.utf8)
        try push.send(frame)
        try pull.setReceiveTimeout(milliseconds: 2000)
        #expect(try pull.receive() == [frame])
    }

    @Test func aPortInUseNamesThePort() throws {
        let first = try ZMQSocket(context, .pull)
        try first.bind("tcp://127.0.0.1:*")
        let endpoint = try #require(first.lastEndpoint)
        let second = try ZMQSocket(context, .pull)
        let error = #expect(throws: ZMQError.self) { try second.bind(endpoint) }
        #expect(error?.isAddressInUse == true)
        #expect(error?.description.contains("port \(ZMQSocket.port(of: endpoint)!) is already in use") == true)
    }

    @Test func routerMandatoryRefusesAnUnknownPeer() throws {
        let router = try ZMQSocket(context, .router)
        try router.setRouterMandatory(true)
        try router.bind("tcp://127.0.0.1:*")
        let error = #expect(throws: ZMQError.self) { try router.send(parts: [Array("ea-99".utf8), Array("{}".utf8)]) }
        #expect(error?.isUnroutable == true)
    }

    @Test func aDealerIsReachedByItsRoutingID() throws {
        let router = try ZMQSocket(context, .router)
        try router.setRouterMandatory(true)
        try router.bind("tcp://127.0.0.1:*")
        let dealer = try ZMQSocket(context, .dealer)
        try dealer.setRoutingID("ea-01")
        try dealer.connect(router.lastEndpoint!)
        try dealer.send(#"{"type":"heartbeat","target_uuid":"ea-01"}"#)
        try router.setReceiveTimeout(milliseconds: 2000)
        let hello = try #require(try router.receive())
        #expect(String(decoding: hello[0], as: UTF8.self) == "ea-01")
        try router.send(parts: [Array("ea-01".utf8), Array("fire".utf8)])
        try dealer.setReceiveTimeout(milliseconds: 2000)
        #expect(try dealer.receive() == [Array("fire".utf8)])
    }

    @Test func forwardingMovesFramesAndLetsThemBeSeen() throws {
        let pull = try ZMQSocket(context, .pull)
        try pull.bind("tcp://127.0.0.1:*")
        let pub = try ZMQSocket(context, .pub)
        try pub.bind("tcp://127.0.0.1:*")
        let sub = try ZMQSocket(context, .sub)
        try sub.subscribe()
        try sub.connect(pub.lastEndpoint!)
        let push = try ZMQSocket(context, .push)
        try push.connect(pull.lastEndpoint!)
        Thread.sleep(forTimeInterval: 0.2)

        try push.send("tick-1")
        var poller = ZMQPoller([pull])
        #expect(try poller.poll(timeout: .seconds(2)) == [0])
        var seen: [String] = []
        #expect(try pull.forward(to: pub) { seen.append(String(decoding: $0, as: UTF8.self)); return true } == .relayed)
        #expect(seen == ["tick-1"])
        try sub.setReceiveTimeout(milliseconds: 2000)
        #expect(try sub.receive() == [Array("tick-1".utf8)])
        #expect(try pull.forward(to: pub) { _ in true } == .nothing)
        try push.send(parts: [Array("tick-2".utf8), Array("garbage".utf8)])
        try push.send("tick-3")
        #expect(try poller.poll(timeout: .seconds(2)) == [0])
        #expect(try pull.forward(to: pub) { _ in true } == .multipart(frames: 2))
        while try poller.poll(timeout: .seconds(2)).isEmpty {}
        #expect(try pull.forward(to: pub) { _ in true } == .relayed)
        #expect(try sub.receive() == [Array("tick-3".utf8)])
    }

    @Test func theMonitorSeesPeersComeAndGo() throws {
        let router = try ZMQSocket(context, .router)
        let monitor = try ZMQMonitor(context, watching: router)
        try router.bind("tcp://127.0.0.1:*")
        let dealer = try ZMQSocket(context, .dealer)
        try dealer.connect(router.lastEndpoint!)
        var kinds: [ZMQMonitor.Event.Kind] = []
        let deadline = Date().addingTimeInterval(3)
        while !kinds.contains(.accepted), Date() < deadline {
            if let event = try monitor.next(dontWait: true) { kinds.append(event.kind) } else { Thread.sleep(forTimeInterval: 0.01) }
        }
        #expect(kinds.contains(.listening))
        #expect(kinds.contains(.accepted))
        dealer.close()
        while !kinds.contains(.disconnected), Date() < deadline {
            if let event = try monitor.next(dontWait: true) { kinds.append(event.kind) } else { Thread.sleep(forTimeInterval: 0.01) }
        }
        #expect(kinds.contains(.disconnected))
    }
}
