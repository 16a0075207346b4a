import Foundation
import Logging
import RunbookZMQ

/// WebApp -> ipc command queue (PULL) -> router -> ROUTER 5555 -> EA (DEALER, routing id = its
/// target_uuid). A fire is recorded QUEUED, routed, then SENT; a fire for an EA that is not
/// connected is FAILED at once with the reason (ROUTER_MANDATORY). Test probes are recorded and
/// never sent to an EA. EAs' heartbeats on 5555 update the registry.
public final class CommandRouter: Flow, @unchecked Sendable {
    public let name = "command-router"
    public let counters = FlowCounters()
    public let queue: String
    public let router: String
    public private(set) var listening: [String] = []
    public var bindEndpoints: [String] { [queue, router] }

    private let store: (any FlowStore)?
    private let heartbeats: HeartbeatBook
    private let log: MalformedLog
    private let logger: Logger
    private var pull: ZMQSocket?
    private var routerSocket: ZMQSocket?
    private var monitor: ZMQMonitor?
    private var poller = ZMQPoller([])
    /// Peers that finished a handshake on the ROUTER and have not disconnected.
    private var connected = 0
    /// When each routing id last sent a heartbeat.
    private var identities: [String: Date] = [:]
    /// A peer without a heartbeat for this long no longer counts as identified.
    static let identifiedFor: TimeInterval = 60

    static let batch = 1000

    public init(queue: String, router: String, store: (any FlowStore)?, logger: Logger) {
        self.queue = queue
        self.router = router
        self.store = store
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
        // An EA that reconnects with its routing id takes over at once, not after the old
        // connection's heartbeat timeout.
        try routerSocket.setRouterHandover(true)
        try routerSocket.setMaxMessageSize(16 << 20)
        try routerSocket.setHeartbeats(interval: .seconds(5), timeout: .seconds(15))
        try routerSocket.bind(router)
        // Connections are counted from the socket's events, so that peers which never say who
        // they are (stray DEALERs) show.
        let monitor = try ZMQMonitor(context, watching: routerSocket)
        self.pull = pull
        self.routerSocket = routerSocket
        self.monitor = monitor
        connected = 0
        identities = [:]
        poller = ZMQPoller([pull, routerSocket, monitor.socket])
        listening = [pull, routerSocket].flatMap(\.endpoints)
    }

    public func serve(timeout: Duration) throws(ZMQError) {
        guard let pull, let routerSocket else { return }
        let ready = try poller.poll(timeout: timeout)
        // At most a batch from each socket per turn, so a flood on one cannot starve the other.
        var handled = 0
        while ready.contains(0), handled < Self.batch, let parts = try pull.receive(dontWait: true) {
            handleCommand(parts, router: routerSocket)
            handled += 1
        }
        handled = 0
        while ready.contains(1), handled < Self.batch, let parts = try routerSocket.receive(dontWait: true) {
            handleFromEA(parts)
            handled += 1
        }
        if ready.contains(2), let monitor {
            while let event = try monitor.next(dontWait: true) {
                switch event.kind {
                case .handshakeSucceeded: connected += 1
                case .disconnected: connected = max(0, connected - 1)
                default: break
                }
            }
        }
        let now = Date()
        identities = identities.filter { now.timeIntervalSince($0.value) < Self.identifiedFor }
        counters.peers(connected: connected, identified: min(identities.count, connected))
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

    private func handleFromEA(_ parts: [[UInt8]]) {
        counters.received()
        guard parts.count == 2 else { return drop(MalformedMessage(reason: .multipart, detail: "\(parts.count - 1) frames from a DEALER")) }
        let identity = String(decoding: parts[0], as: UTF8.self)
        do {
            let message = try FlowMessage.parse(parts[1])
            guard case .heartbeat(let target, let account, _) = message else {
                return drop(MalformedMessage(reason: .unknownType, detail: "EA \(identity) sent something other than a heartbeat on \(router)"))
            }
            let now = Date()
            heartbeats.note(target: target, account: account, at: now)
            identities[identity] = now
        } catch {
            drop(error)
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
