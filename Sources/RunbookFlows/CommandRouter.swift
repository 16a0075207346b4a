import Foundation
import Logging
import RunbookCore
import RunbookZMQ

/// WebApp -> ipc command queue (PULL) -> router -> ROUTER 5555 -> EA (DEALER, routing id = its
/// target_uuid). A fire is recorded QUEUED, routed, then SENT; a fire for an EA that is not
/// connected is FAILED at once with the reason (ROUTER_MANDATORY). Test probes are recorded and
/// never sent to an EA. EAs' heartbeats on 5555 update the registry. With CURVE (`FlowAccess`), a
/// fire goes only to a routing id whose connection proved a key allowed to use it (`RoutingClaims`).
public final class CommandRouter: Flow, @unchecked Sendable {
    public let name = "command-router"
    public let counters = FlowCounters()
    public let queue: String
    public let router: String
    public private(set) var listening: [String] = []
    public var bindEndpoints: [String] { [queue, router] }

    private let store: (any FlowStore)?
    private let access: FlowAccess?
    /// The kill switch: while it is closed, fires are failed here and never reach an EA.
    private let gate: FireGate?
    private let heartbeats: HeartbeatBook
    private let log: MalformedLog
    private let logger: Logger
    private var pull: ZMQSocket?
    private var routerSocket: ZMQSocket?
    private var monitor: ZMQMonitor?
    private var poller = ZMQPoller([])
    /// The ROUTER's accepted connections, by descriptor, until they disconnect.
    private var accepted: Set<Int32> = []
    /// When each routing id last sent a heartbeat.
    private var identities: [String: Date] = [:]
    /// A peer without a heartbeat for this long no longer counts as identified.
    static let identifiedFor: TimeInterval = 60
    /// With CURVE: which connection proved its right to each routing id.
    private var claims = RoutingClaims()

    static let batch = 1000

    /// With CURVE, a connection that says nothing for `quietLimit` seconds is closed (`RoutingClaims`).
    private let quietLimit: TimeInterval

    public init(
        queue: String, router: String, store: (any FlowStore)?, logger: Logger, access: FlowAccess? = nil, gate: FireGate? = nil,
        quietLimit: TimeInterval = 30
    ) {
        self.gate = gate
        self.quietLimit = quietLimit
        self.queue = queue
        self.router = router
        self.store = store
        self.access = access
        self.heartbeats = HeartbeatBook(store: store, logger: logger)
        self.logger = logger
        self.log = MalformedLog(logger: logger, flow: "command-router")
    }

    public func open(_ context: ZMQContext) throws(ZMQError) {
        let pull = try ZMQSocket(context, .pull)
        try pull.setMaxMessageSize(16 << 20)
        try pull.bind(queue)
        let routerSocket = try ZMQSocket(context, .router)
        try routerSocket.setRouterMandatory(true)
        // An EA that reconnects with its routing id takes over at once: without handover libzmq
        // drops the newcomer silently while the old connection lingers.
        try routerSocket.setRouterHandover(true)
        try routerSocket.setMaxMessageSize(16 << 20)
        // A dead EA's connection is found by TCP in about 20 s; ZMTP heartbeats together with
        // handover abort the process in libzmq 4.3.4 (see setDeadPeerDetection).
        try routerSocket.setDeadPeerDetection(idle: .seconds(10), interval: .seconds(5), count: 3, unacknowledged: .seconds(20))
        try access?.guardSocket(routerSocket, as: .router, address: router, counters: counters)
        try routerSocket.bind(router)
        // Connections are counted from the socket's events, so that peers which never say who
        // they are (stray DEALERs) show.
        let monitor = try ZMQMonitor(context, watching: routerSocket)
        self.pull = pull
        self.routerSocket = routerSocket
        self.monitor = monitor
        accepted = []
        identities = [:]
        claims = RoutingClaims(quietLimit: quietLimit)
        poller = ZMQPoller([pull, routerSocket, monitor.socket])
        listening = [pull, routerSocket].flatMap(\.endpoints)
    }

    public func serve(timeout: Duration) throws(ZMQError) {
        guard let pull, let routerSocket else { return }
        let ready = try poller.poll(timeout: timeout)
        // At most a batch from each socket per turn, so a flood on one cannot starve the other.
        var handled = 0
        let checksClaims = access?.usesCurve == true
        while ready.contains(0), handled < Self.batch, let parts = try pull.receive(dontWait: true) {
            // A connection gone since the last fire no longer holds its routing id.
            if checksClaims { try readConnectionEvents() }
            handleCommand(parts, router: routerSocket)
            handled += 1
        }
        handled = 0
        while ready.contains(1), handled < Self.batch, let (parts, sender) = try routerSocket.receiveWithSender(dontWait: true) {
            handleFromEA(parts, sender: checksClaims ? sender : nil, router: routerSocket)
            handled += 1
        }
        if checksClaims {
            try closeQuietConnections(routerSocket)
        } else if ready.contains(2) {
            try readConnectionEvents()
        }
        let now = Date()
        identities = identities.filter { now.timeIntervalSince($0.value) < Self.identifiedFor }
        let connected = accepted.count(where: Self.isEstablished)
        counters.peers(connected: connected, identified: min(identities.count, connected))
    }

    private func readConnectionEvents() throws(ZMQError) {
        guard let monitor else { return }
        while let event = try monitor.next(dontWait: true) {
            switch event.kind {
            case .accepted:
                accepted.insert(Int32(bitPattern: event.value))
                claims.accepted(Int32(bitPattern: event.value))
            case .closed: accepted.remove(Int32(bitPattern: event.value))
            case .disconnected:
                accepted.remove(Int32(bitPattern: event.value))
                claims.disconnected(Int32(bitPattern: event.value))
            default: break
            }
        }
    }

    /// Whether a connection's peer is still there. A connection handed over to a newcomer with
    /// the same routing id is never reported disconnected by libzmq, though its peer may be long
    /// gone (the kernel has it in CLOSE_WAIT): counted as a peer, it would show as a stray EA.
    /// Descriptors other than TCP (ipc) count as connected.
    static func isEstablished(_ descriptor: Int32) -> Bool {
        var info = [UInt8](repeating: 0, count: 256)
        var length = socklen_t(info.count)
        guard getsockopt(descriptor, Int32(IPPROTO_TCP), TCP_INFO, &info, &length) == 0, length > 0 else { return true }
        // tcpi_state, the first byte of struct tcp_info: 1 is TCP_ESTABLISHED.
        return info[0] == 1
    }

    private func handleCommand(_ parts: [[UInt8]], router routerSocket: ZMQSocket) {
        counters.received()
        guard parts.count == 1 else { return drop(MalformedMessage(reason: .multipart, detail: "\(parts.count) frames on the command queue")) }
        let message: FlowMessage
        do { message = try FlowMessage.parse(parts[0]) } catch { return drop(error) }
        let now = Date()
        switch message {
        case .fire(let fire):
            var isNew = true
            record("queue fire \(fire.id)") { isNew = try store?.recordFireQueued(fire, at: now) ?? true }
            // A web app that retries must not execute a trade twice.
            guard isNew else { return drop(MalformedMessage(reason: .duplicateFire, detail: "fire \(fire.id) was queued before; not sent again")) }
            var reason: String?
            if let closed = gate?.closedReason {
                reason = "gate closed: \(closed)"
            } else if access?.usesCurve == true, !claims.holds(fire.target) {
                reason = "EA \(fire.target) has not proven its CURVE key on \(router): it is not connected, or has sent nothing since it connected"
            } else {
                do {
                    if try routerSocket.send(parts: [Array(fire.target.utf8), parts[0]], dontWait: true) {
                        counters.sent()
                        record("mark fire \(fire.id) sent") { try store?.recordFireSent(id: fire.id, at: Date()) }
                    } else {
                        reason = "EA \(fire.target)'s queue is full: it is not reading its fires"
                    }
                } catch {
                    reason = error.isUnroutable ? "EA \(fire.target) is not connected to \(router)" : "cannot send to EA \(fire.target): \(error.reason)"
                }
            }
            if let reason {
                logger.warning("fire \(fire.id) failed: \(reason)", metadata: ["flow": "\(name)", "fire": "\(fire.id)"])
                record("mark fire \(fire.id) failed") { try store?.recordFireFailed(id: fire.id, reason: reason, at: Date()) }
            }
        case .test(let probeID):
            record("record probe \(probeID)") { try store?.recordProbe(id: probeID, at: now) }
        default:
            drop(MalformedMessage(reason: .unknownType, detail: "the command queue takes fire and test messages"))
        }
    }

    /// `sender` is given with CURVE, whose keys decide who may use which routing id.
    private func handleFromEA(_ parts: [[UInt8]], sender: ZMQSocket.Sender?, router routerSocket: ZMQSocket) {
        // Not counted as received: the router's "in" is the command queue (fires and probes);
        // EAs' heartbeats show as its peers.
        guard parts.count == 2 else { return drop(MalformedMessage(reason: .multipart, detail: "\(parts.count - 1) frames from a DEALER")) }
        let identity = String(decoding: parts[0], as: UTF8.self)
        // Empty: the message a DEALER with ZMQ_PROBE_ROUTER sends as it connects.
        let message = parts[1].isEmpty ? nil : Result { () throws(MalformedMessage) in try FlowMessage.parse(parts[1]) }
        var client: FlowAccess.Client?
        if let sender, let access {
            guard let admitted = admit(parts[0], sender: sender, access: access, router: routerSocket) else { return }
            client = admitted
        }
        guard let message else {
            identities[identity] = Date()
            return
        }
        do {
            guard case .heartbeat(let target, let account, _) = try message.get() else {
                return drop(MalformedMessage(reason: .unknownType, detail: "EA \(identity) sent something other than a heartbeat on \(router)"))
            }
            if let client, let access, !access.allows(client, toUse: target, on: .router, "sent a heartbeat for \(target)") { return }
            let now = Date()
            heartbeats.note(target: target, account: account, at: now)
            identities[identity] = now
        } catch {
            drop(error)
        }
    }

    /// With CURVE: the client whose key may use the routing id a message came on; nil when it may
    /// not, after its refusal is counted and its connection dropped.
    private func admit(_ routingID: [UInt8], sender: ZMQSocket.Sender, access: FlowAccess, router routerSocket: ZMQSocket) -> FlowAccess.Client? {
        let identity = String(decoding: routingID, as: UTF8.self)
        let client = access.client(named: sender.userID)
        // Descriptors of connections that have gone must not be mistaken for live ones.
        try? readConnectionEvents()
        if claims.message(on: identity, from: client, descriptor: sender.descriptor) { return client }
        guard claims.markDropped(identity, userID: sender.userID) else { return nil }
        let shown = routingID.allSatisfy { (0x21...0x7e).contains($0) } ? identity : "0x" + routingID.map { String(format: "%02x", $0) }.joined()
        access.refused(.routingIDNotAllowed, on: .router, "'\(client?.name ?? "a peer")' presented routing id \(shown), which its key may not use; its connection is closed")
        if let descriptor = sender.descriptor { routerSocket.dropPeer(descriptor: descriptor) }
        return nil
    }

    /// With CURVE: closes connections that have said nothing for a while (see `RoutingClaims`).
    private func closeQuietConnections(_ routerSocket: ZMQSocket) throws(ZMQError) {
        try readConnectionEvents()
        for descriptor in claims.tooQuiet() {
            routerSocket.dropPeer(descriptor: descriptor)
            logger.notice(
                "closed a connection to \(router) that sent nothing for \(Int(quietLimit)) s: an EA proves its key by a message on connecting (ZMQ_PROBE_ROUTER, or a heartbeat)",
                metadata: ["flow": "\(name)"]
            )
        }
    }

    private func drop(_ problem: MalformedMessage) {
        counters.malformed(problem.reason)
        log.drop(problem)
    }

    private func record(_ what: String, _ body: () throws -> Void) {
        do { try body() } catch { logger.error("cannot \(what): \(error)", metadata: ["flow": "\(name)"]) }
    }

    public func close() {
        heartbeats.flush()
        pull?.close()
        // A monitor left running keeps the closed ROUTER's connections alive in libzmq, and
        // EAs would never reconnect to the restarted one.
        routerSocket?.stopMonitoring()
        monitor?.socket.close()
        routerSocket?.close()
        pull = nil
        monitor = nil
        routerSocket = nil
    }
}
