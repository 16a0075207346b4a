import CZeroMQ
#if canImport(Glibc)
import Glibc
#endif

/// A ZeroMQ socket. Like libzmq's own, a socket belongs to one thread at a time.
public final class ZMQSocket {
    public enum Kind: Sendable, CustomStringConvertible {
        case pub, sub, push, pull, router, dealer, pair, rep

        var raw: Int32 {
            switch self {
            case .pub: return ZMQ_PUB
            case .sub: return ZMQ_SUB
            case .push: return ZMQ_PUSH
            case .pull: return ZMQ_PULL
            case .router: return ZMQ_ROUTER
            case .dealer: return ZMQ_DEALER
            case .pair: return ZMQ_PAIR
            case .rep: return ZMQ_REP
            }
        }

        public var description: String {
            switch self {
            case .pub: return "PUB"
            case .sub: return "SUB"
            case .push: return "PUSH"
            case .pull: return "PULL"
            case .router: return "ROUTER"
            case .dealer: return "DEALER"
            case .pair: return "PAIR"
            case .rep: return "REP"
            }
        }
    }

    let handle: UnsafeMutableRawPointer
    public let kind: Kind
    public private(set) var endpoints: [String] = []
    private var closed = false

    /// A new socket with linger 0, so that closing never waits on unsent messages.
    public init(_ context: ZMQContext, _ kind: Kind) throws(ZMQError) {
        guard let handle = zmq_socket(context.handle, kind.raw) else { throw ZMQError.last("create a \(kind) socket") }
        self.handle = handle
        self.kind = kind
        try set(ZMQ_LINGER, 0, "linger")
    }

    deinit {
        close()
    }

    public func close() {
        guard !closed else { return }
        closed = true
        zmq_close(handle)
    }

    /// Ends a `ZMQMonitor` of this socket; do it before closing either.
    public func stopMonitoring() {
        guard !closed else { return }
        zmq_socket_monitor(handle, nil, 0)
    }

    // MARK: Endpoints

    /// Binds; a port in use says which port.
    public func bind(_ endpoint: String) throws(ZMQError) {
        guard zmq_bind(handle, endpoint) == 0 else {
            var error = ZMQError.last("bind \(kind) to \(endpoint)")
            error.endpoint = endpoint
            if error.isAddressInUse { error.operation = "bind \(kind) to \(endpoint): port \(Self.port(of: endpoint).map(String.init) ?? endpoint) is already in use" }
            throw error
        }
        endpoints.append(lastEndpoint ?? endpoint)
    }

    public func connect(_ endpoint: String) throws(ZMQError) {
        guard zmq_connect(handle, endpoint) == 0 else { throw ZMQError.last("connect \(kind) to \(endpoint)") }
        endpoints.append(endpoint)
    }

    /// The endpoint last bound, with the port libzmq chose for `tcp://127.0.0.1:*`.
    public var lastEndpoint: String? {
        var buffer = [CChar](repeating: 0, count: 256)
        var length = buffer.count
        guard runbook_zmq_get_bytes(handle, ZMQ_LAST_ENDPOINT, &buffer, &length) == 0 else { return nil }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The TCP port of `tcp://host:port`.
    public static func port(of endpoint: String) -> Int? {
        guard endpoint.hasPrefix("tcp://"), let colon = endpoint.lastIndex(of: ":") else { return nil }
        return Int(endpoint[endpoint.index(after: colon)...])
    }

    // MARK: Options

    private func set(_ option: Int32, _ value: Int32, _ name: String) throws(ZMQError) {
        guard runbook_zmq_set_int(handle, option, value) == 0 else { throw ZMQError.last("set \(name) on \(kind)") }
    }

    /// High-water marks: how many messages queue per peer before sends block or drop.
    public func setHighWaterMarks(send: Int32, receive: Int32) throws(ZMQError) {
        try set(ZMQ_SNDHWM, send, "send high-water mark")
        try set(ZMQ_RCVHWM, receive, "receive high-water mark")
    }

    /// ROUTER: a message for a peer that is not connected fails with EHOSTUNREACH instead of vanishing.
    public func setRouterMandatory(_ on: Bool) throws(ZMQError) {
        try set(ZMQ_ROUTER_MANDATORY, on ? 1 : 0, "router mandatory")
    }

    /// ROUTER: a new peer with a routing id already in use takes it over.
    public func setRouterHandover(_ on: Bool) throws(ZMQError) {
        try set(ZMQ_ROUTER_HANDOVER, on ? 1 : 0, "router handover")
    }

    /// How long closing waits to deliver queued messages (0 by default here).
    public func setLinger(milliseconds: Int32) throws(ZMQError) {
        try set(ZMQ_LINGER, milliseconds, "linger")
    }

    /// The identity a DEALER presents to a ROUTER.
    public func setRoutingID(_ id: String) throws(ZMQError) {
        let bytes = Array(id.utf8)
        guard runbook_zmq_set_bytes(handle, ZMQ_ROUTING_ID, bytes, bytes.count) == 0 else { throw ZMQError.last("set routing id on \(kind)") }
    }

    /// SUB: receive messages starting with `prefix` ("" for all).
    public func subscribe(_ prefix: String = "") throws(ZMQError) {
        let bytes = Array(prefix.utf8)
        guard runbook_zmq_set_bytes(handle, ZMQ_SUBSCRIBE, bytes, bytes.count) == 0 else { throw ZMQError.last("subscribe on \(kind)") }
    }

    /// Dead peers found by TCP itself: keepalive probes after `idle` of silence, `count` of them
    /// `interval` apart, and a connection whose sent data stays unacknowledged for `unacknowledged`
    /// is dropped (TCP_USER_TIMEOUT; keepalive alone waits out retransmissions for minutes).
    ///
    /// Not ZMTP heartbeats: libzmq 4.3.4 aborts the whole process (`!_io_error`,
    /// stream_engine_base.cpp:331) when a heartbeat timer fires on a connection that a ROUTER
    /// handed over to a peer with the same routing id and whose peer then died.
    public func setDeadPeerDetection(idle: Duration, interval: Duration, count: Int32, unacknowledged: Duration) throws(ZMQError) {
        try set(ZMQ_TCP_KEEPALIVE, 1, "TCP keepalive")
        try set(ZMQ_TCP_KEEPALIVE_IDLE, Int32(clamping: idle.components.seconds), "TCP keepalive idle")
        try set(ZMQ_TCP_KEEPALIVE_INTVL, Int32(clamping: interval.components.seconds), "TCP keepalive interval")
        try set(ZMQ_TCP_KEEPALIVE_CNT, count, "TCP keepalive count")
        try set(ZMQ_TCP_MAXRT, Int32(clamping: unacknowledged.components.seconds * 1000), "TCP maximum retransmit time")
    }

    /// Frames larger than this are refused by libzmq and the sending peer disconnected.
    public func setMaxMessageSize(_ bytes: Int64) throws(ZMQError) {
        guard runbook_zmq_set_int64(handle, ZMQ_MAXMSGSIZE, bytes) == 0 else { throw ZMQError.last("set max message size on \(kind)") }
    }

    public func setReceiveTimeout(milliseconds: Int32) throws(ZMQError) {
        try set(ZMQ_RCVTIMEO, milliseconds, "receive timeout")
    }

    public func setSendTimeout(milliseconds: Int32) throws(ZMQError) {
        try set(ZMQ_SNDTIMEO, milliseconds, "send timeout")
    }

    // MARK: Security

    /// CURVE server: only peers holding a CURVE key can finish a handshake, and their traffic is
    /// encrypted. `secretKey` is the server's, in Z85; no error repeats it.
    public func setCurveServer(secretKey: String) throws(ZMQError) {
        try set(ZMQ_CURVE_SERVER, 1, "CURVE server")
        let bytes = Array(secretKey.utf8)
        guard runbook_zmq_set_bytes(handle, ZMQ_CURVE_SECRETKEY, bytes, bytes.count) == 0 else { throw ZMQError.last("set the CURVE secret key on \(kind)") }
    }

    /// Puts every peer that connects to the ZAP handler under `domain`, NULL-mechanism peers
    /// too, and refuses peers while no handler answers instead of letting them in.
    public func setZAPDomain(_ domain: String) throws(ZMQError) {
        let bytes = Array(domain.utf8)
        guard runbook_zmq_set_bytes(handle, ZMQ_ZAP_DOMAIN, bytes, bytes.count) == 0 else { throw ZMQError.last("set ZAP domain on \(kind)") }
        try set(ZMQ_ZAP_ENFORCE_DOMAIN, 1, "ZAP enforce domain")
    }

    /// Drops the peer on a connection of this socket (a descriptor from `Sender`). libzmq 4.3
    /// cannot drop one peer of a ROUTER; a connection shut down under it is dropped as one whose
    /// peer went away.
    public func dropPeer(descriptor: Int32) {
        shutdown(descriptor, Int32(SHUT_RDWR))
    }

    // MARK: Messages

    /// Sends one frame; `more` marks it as part of a multipart message. False when it would block.
    @discardableResult
    public func send(_ bytes: some Collection<UInt8>, more: Bool = false, dontWait: Bool = false) throws(ZMQError) -> Bool {
        let flags = (more ? ZMQ_SNDMORE : 0) | (dontWait ? ZMQ_DONTWAIT : 0)
        let result = Array(bytes).withUnsafeBytes { zmq_send(handle, $0.baseAddress, $0.count, flags) }
        guard result >= 0 else {
            let error = ZMQError.last("send on \(kind)")
            if error.wouldBlock { return false }
            throw error
        }
        return true
    }

    @discardableResult
    public func send(_ text: String, more: Bool = false, dontWait: Bool = false) throws(ZMQError) -> Bool {
        try send(Array(text.utf8), more: more, dontWait: dontWait)
    }

    /// Sends a multipart message (a ROUTER's routing id, then the body).
    @discardableResult
    public func send(parts: [[UInt8]], dontWait: Bool = false) throws(ZMQError) -> Bool {
        for (index, part) in parts.enumerated() {
            guard try send(part, more: index < parts.count - 1, dontWait: dontWait) else { return false }
        }
        return true
    }

    /// Receives one whole message (all its frames); nil when none waits and `dontWait` is set,
    /// or when the receive timeout passes.
    public func receive(dontWait: Bool = false) throws(ZMQError) -> [[UInt8]]? {
        try receiveMessage(dontWait: dontWait, withSender: false)?.parts
    }

    /// Who sent a message, as libzmq knows the connection it came on.
    public struct Sender: Sendable, Equatable {
        /// The user id the ZAP handler gave the connection; nil without one.
        public var userID: String?
        /// The connection's file descriptor (a TCP connection's), for `dropPeer`.
        public var descriptor: Int32?
    }

    /// As `receive`, with who sent the message.
    public func receiveWithSender(dontWait: Bool = false) throws(ZMQError) -> (parts: [[UInt8]], sender: Sender)? {
        try receiveMessage(dontWait: dontWait, withSender: true).map { ($0.parts, $0.sender ?? Sender()) }
    }

    private func receiveMessage(dontWait: Bool, withSender: Bool) throws(ZMQError) -> (parts: [[UInt8]], sender: Sender?)? {
        var parts: [[UInt8]] = []
        var sender: Sender?
        var message = zmq_msg_t()
        zmq_msg_init(&message)
        defer { zmq_msg_close(&message) }
        repeat {
            guard zmq_msg_recv(&message, handle, parts.isEmpty && dontWait ? ZMQ_DONTWAIT : 0) >= 0 else {
                let error = ZMQError.last("receive on \(kind)")
                if error.wouldBlock && parts.isEmpty { return nil }
                throw error
            }
            // From the last frame: a ROUTER polled for input makes the routing id frame it
            // prefixes without the connection's properties (libzmq 4.3's xhas_in).
            if withSender && zmq_msg_more(&message) == 0 {
                let descriptor = zmq_msg_get(&message, ZMQ_SRCFD)
                sender = Sender(userID: zmq_msg_gets(&message, "User-Id").map { String(cString: $0) }, descriptor: descriptor >= 0 ? descriptor : nil)
            }
            let size = zmq_msg_size(&message)
            parts.append(size == 0 ? [] : Array(UnsafeRawBufferPointer(start: zmq_msg_data(&message), count: size)))
        } while zmq_msg_more(&message) == 1
        return (parts, sender)
    }

    /// What `forward` did with the message waiting, if any.
    public enum Forwarded: Equatable {
        /// No message was waiting.
        case nothing
        case relayed
        /// `relay` refused it.
        case dropped
        /// It had more than one frame; all were dropped.
        case multipart(frames: Int)
    }

    /// Moves one waiting single-frame message to `destination` without copying it, if `relay` says
    /// so after seeing its bytes. A multipart message is dropped whole, never relayed in part.
    public func forward(to destination: ZMQSocket, relay: (UnsafeRawBufferPointer) -> Bool) throws(ZMQError) -> Forwarded {
        try forward(to: destination) { bytes, _ in relay(bytes) }
    }

    /// As `forward(to:relay:)`, and `relay` can ask for the user id the frame's connection was
    /// admitted with (the ZAP handler's, with CURVE the name of the peer's key).
    public func forward(to destination: ZMQSocket, relay: (UnsafeRawBufferPointer, _ userID: () -> String?) -> Bool) throws(ZMQError) -> Forwarded {
        var message = zmq_msg_t()
        zmq_msg_init(&message)
        defer { zmq_msg_close(&message) }
        guard zmq_msg_recv(&message, handle, ZMQ_DONTWAIT) >= 0 else {
            let error = ZMQError.last("receive on \(kind)")
            if error.wouldBlock { return .nothing }
            throw error
        }
        if zmq_msg_more(&message) == 1 {
            var frames = 1
            while zmq_msg_more(&message) == 1, zmq_msg_recv(&message, handle, 0) >= 0 { frames += 1 }
            return .multipart(frames: frames)
        }
        let userID = { zmq_msg_gets(&message, "User-Id").map { String(cString: $0) } }
        guard relay(UnsafeRawBufferPointer(start: zmq_msg_data(&message), count: zmq_msg_size(&message)), userID) else { return .dropped }
        guard zmq_msg_send(&message, destination.handle, ZMQ_DONTWAIT) >= 0 else {
            let error = ZMQError.last("send on \(destination.kind)")
            // A PUB socket never blocks; anything else that would block drops this frame, as PUB does.
            if error.wouldBlock { return .relayed }
            throw error
        }
        return .relayed
    }
}
