import CZeroMQ
import Foundation

/// The connection events of one socket (peers accepted, disconnected...), read through libzmq's
/// socket monitor.
public final class ZMQMonitor {
    public struct Event: Sendable, Equatable {
        public enum Kind: Sendable, Equatable {
            case listening, bindFailed, accepted, acceptFailed, connected, connectDelayed, connectRetried
            case closed, closeFailed, disconnected, handshakeSucceeded, handshakeFailed, other(UInt16)
        }

        public var kind: Kind
        /// The file descriptor or error number the event carries.
        public var value: UInt32
        public var endpoint: String
    }

    public let socket: ZMQSocket

    public init(_ context: ZMQContext, watching watched: ZMQSocket) throws(ZMQError) {
        let endpoint = "inproc://monitor-\(UUID().uuidString)"
        guard zmq_socket_monitor(watched.handle, endpoint, ZMQ_EVENT_ALL) == 0 else { throw ZMQError.last("monitor \(watched.kind)") }
        socket = try ZMQSocket(context, .pair)
        try socket.connect(endpoint)
    }

    /// The next event, or nil when none waits and `dontWait` is set.
    public func next(dontWait: Bool = true) throws(ZMQError) -> Event? {
        guard let parts = try socket.receive(dontWait: dontWait), parts.count == 2, parts[0].count >= 6 else { return nil }
        let (id, value) = parts[0].withUnsafeBytes { (runbook_zmq_event_id($0.baseAddress), runbook_zmq_event_value($0.baseAddress)) }
        return Event(kind: Self.kind(Int32(id)), value: value, endpoint: String(decoding: parts[1], as: UTF8.self))
    }

    private static func kind(_ id: Int32) -> Event.Kind {
        switch id {
        case ZMQ_EVENT_LISTENING: return .listening
        case ZMQ_EVENT_BIND_FAILED: return .bindFailed
        case ZMQ_EVENT_ACCEPTED: return .accepted
        case ZMQ_EVENT_ACCEPT_FAILED: return .acceptFailed
        case ZMQ_EVENT_CONNECTED: return .connected
        case ZMQ_EVENT_CONNECT_DELAYED: return .connectDelayed
        case ZMQ_EVENT_CONNECT_RETRIED: return .connectRetried
        case ZMQ_EVENT_CLOSED: return .closed
        case ZMQ_EVENT_CLOSE_FAILED: return .closeFailed
        case ZMQ_EVENT_DISCONNECTED: return .disconnected
        case ZMQ_EVENT_HANDSHAKE_SUCCEEDED: return .handshakeSucceeded
        case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL, ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL, ZMQ_EVENT_HANDSHAKE_FAILED_AUTH: return .handshakeFailed
        default: return .other(UInt16(truncatingIfNeeded: id))
        }
    }
}
