import Foundation

/// One message to an endpoint a peer binds, from a short-lived socket: connects, waits until the
/// ZMTP handshake is done (before it a message can still be lost), sends, and waits for it to
/// leave. For the command line and for test probes, not for hot paths.
public enum ZMQOneShot {
    public enum Outcome: Sendable, Equatable {
        case sent
        /// No peer finished a handshake within the time.
        case noPeer
        /// The peer did not take the message within the time.
        case notTaken
    }

    /// Sends `message` on a PUSH socket connected to `endpoint`.
    public static func push(_ message: String, to endpoint: String, within timeout: Duration = .seconds(2)) throws(ZMQError) -> Outcome {
        let context = try ZMQContext()
        defer { context.shutdown() }
        let push = try ZMQSocket(context, .push)
        defer { push.close() }
        guard try handshake(push, context: context, endpoint: endpoint, within: timeout) else { return .noPeer }
        let milliseconds = Int32(clamping: timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000)
        try push.setSendTimeout(milliseconds: milliseconds)
        // Closing waits (up to the timeout) until the message has left, instead of dropping it.
        try push.setLinger(milliseconds: milliseconds)
        return try push.send(message) ? .sent : .notTaken
    }

    /// Whether a peer bound at `endpoint` finishes a ZMTP handshake within the time, with a socket
    /// of `kind` (ZeroMQ refuses mismatched pairs: a PUB answers a SUB, a ROUTER a DEALER).
    public static func peerAnswers(at endpoint: String, as kind: ZMQSocket.Kind = .dealer, within timeout: Duration = .seconds(2)) throws(ZMQError) -> Bool {
        let context = try ZMQContext()
        defer { context.shutdown() }
        let socket = try ZMQSocket(context, kind)
        defer { socket.close() }
        try socket.setLinger(milliseconds: 0)
        return try handshake(socket, context: context, endpoint: endpoint, within: timeout)
    }

    /// `body` on a thread of its own: these calls block for up to their timeout, which must not
    /// hold one of the few threads async code runs on.
    public static func offThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread {
                do { continuation.resume(returning: try body()) } catch { continuation.resume(throwing: error) }
            }
            thread.name = "zmq-one-shot"
            thread.start()
        }
    }

    private static func handshake(_ socket: ZMQSocket, context: ZMQContext, endpoint: String, within timeout: Duration) throws(ZMQError) -> Bool {
        let monitor = try ZMQMonitor(context, watching: socket)
        defer {
            socket.stopMonitoring()
            monitor.socket.close()
        }
        try socket.connect(endpoint)
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if let event = try monitor.next(dontWait: true) {
                if event.kind == .handshakeSucceeded { return true }
            } else {
                usleep(5_000)
            }
        }
        return false
    }
}
