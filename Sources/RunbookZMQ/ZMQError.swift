import CZeroMQ

/// A libzmq error with libzmq's own words (zmq_strerror) and what was being done.
public struct ZMQError: Error, Sendable, CustomStringConvertible {
    public var code: Int32
    public var operation: String
    /// The endpoint a failed bind or connect named.
    public var endpoint: String?

    public init(code: Int32, operation: String, endpoint: String? = nil) {
        self.code = code
        self.operation = operation
        self.endpoint = endpoint
    }

    /// The error of the last failed libzmq call on this thread.
    static func last(_ operation: String) -> ZMQError {
        ZMQError(code: zmq_errno(), operation: operation)
    }

    public var reason: String { String(cString: zmq_strerror(code)) }

    public var description: String { "\(operation): \(reason)" }

    public var isAddressInUse: Bool { code == EADDRINUSE }
    /// ROUTER_MANDATORY: the peer named by the routing id is not connected.
    public var isUnroutable: Bool { code == EHOSTUNREACH }
    public var wouldBlock: Bool { code == EAGAIN }
    public var isInterrupted: Bool { code == EINTR }
    public var contextTerminated: Bool { code == ETERM }
}

#if canImport(Glibc)
import Glibc
#endif
