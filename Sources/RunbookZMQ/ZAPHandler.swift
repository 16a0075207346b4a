import Foundation

/// The ZAP handler of a context (ZeroMQ RFC 27): libzmq asks it whether to let in each peer that
/// connects to a socket of the context with a ZAP domain or as a CURVE server, and waits for the
/// answer before the peer can send or receive anything. A thread of its own with a REP socket on
/// `inproc://zeromq.zap.01`; `decide` answers each request on that thread. It ends with its context.
public final class ZAPHandler: Sendable {
    /// What libzmq knows of a peer when it asks.
    public struct Request: Sendable, Equatable {
        /// The ZAP domain of the socket the peer connects to.
        public var domain: String
        /// The peer's IP address; empty when the transport has none (ipc).
        public var address: String
        /// NULL, PLAIN or CURVE.
        public var mechanism: String
        /// The peer's CURVE public key in Z85; nil for the other mechanisms.
        public var clientKey: String?

        public init(domain: String, address: String, mechanism: String, clientKey: String? = nil) {
            self.domain = domain
            self.address = address
            self.mechanism = mechanism
            self.clientKey = clientKey
        }
    }

    public enum Decision: Sendable, Equatable {
        /// Lets the peer in; its messages carry `userID` (`ZMQSocket.Sender.userID`).
        case allow(userID: String)
        /// Refuses it; libzmq ends the handshake with this reason.
        case refuse(String)
    }

    /// The endpoint libzmq sends requests to, in the same context.
    public static let endpoint = "inproc://zeromq.zap.01"

    /// Binds the handler's socket before returning, so that sockets made afterwards are answered
    /// from their first peer on, and starts its thread.
    public init(_ context: ZMQContext, decide: @escaping @Sendable (Request) -> Decision) throws(ZMQError) {
        let socket = try ZMQSocket(context, .rep)
        try socket.bind(Self.endpoint)
        let loop = Loop(socket: socket, decide: decide)
        let thread = Thread { loop.run() }
        thread.name = "zap-handler"
        thread.start()
    }

    /// The socket moves to the handler's thread once, before that thread starts.
    private final class Loop: @unchecked Sendable {
        let socket: ZMQSocket
        let decide: @Sendable (Request) -> Decision

        init(socket: ZMQSocket, decide: @escaping @Sendable (Request) -> Decision) {
            self.socket = socket
            self.decide = decide
        }

        /// Answers until the context is shut down.
        func run() {
            defer { socket.close() }
            while true {
                let request: [[UInt8]]
                do {
                    guard let parts = try socket.receive() else { continue }
                    request = parts
                } catch {
                    if error.isInterrupted { continue }
                    return
                }
                do { try socket.send(parts: answer(request)) } catch {
                    if !error.isInterrupted { return }
                }
            }
        }

        /// Version, request id, status code, status text, user id, metadata.
        private func answer(_ parts: [[UInt8]]) -> [[UInt8]] {
            let id = parts.count > 1 ? parts[1] : []
            guard parts.count >= 6, parts[0] == Array("1.0".utf8) else { return reply(id, "400", "malformed ZAP request", "") }
            let text = { (index: Int) in String(decoding: parts[index], as: UTF8.self) }
            var request = Request(domain: text(2), address: text(3), mechanism: text(5))
            if request.mechanism == "CURVE" {
                guard parts.count >= 7, let key = ZMQCurve.z85(parts[6]) else { return reply(id, "400", "malformed CURVE credentials", "") }
                request.clientKey = key
            }
            switch decide(request) {
            case .allow(let userID): return reply(id, "200", "OK", userID)
            case .refuse(let reason): return reply(id, "400", reason, "")
            }
        }

        private func reply(_ id: [UInt8], _ status: String, _ text: String, _ userID: String) -> [[UInt8]] {
            [Array("1.0".utf8), id, Array(status.utf8), Array(text.utf8), Array(userID.utf8), []]
        }
    }
}
