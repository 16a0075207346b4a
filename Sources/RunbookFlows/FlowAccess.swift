import Foundation
import Logging
import RunbookZMQ
import Synchronization

/// Why a peer was refused, as counted per flow.
public enum RefusalReason: String, Sendable, CaseIterable {
    /// Its CURVE key is not among the clients.
    case unknownKey = "unknown_key"
    /// CURVE is required and it came without a key.
    case noKey = "no_key"
    /// Its address is outside the allowlist.
    case addressNotAllowed = "address_not_allowed"
    /// It presented, or spoke for, a routing id its key may not use.
    case routingIDNotAllowed = "routing_id_not_allowed"
}

/// Who may connect to the sockets the flows bind: the engine's ZAP handler asks it about every
/// peer before the peer can send or receive anything. It refuses unknown CURVE keys and addresses
/// outside the allowlist, counts each refusal on the flow's counters and logs them at most once a
/// second. libzmq does not tell the ZAP handler which routing id a DEALER presents, so the
/// command router checks that with `RoutingClaims` from the user id given here.
public final class FlowAccess: Sendable {
    /// A peer's key and the routing ids it may present to the router.
    public struct Client: Sendable, Equatable {
        public var name: String
        public var publicKey: String
        public var routingIDs: Set<String>

        public init(name: String, publicKey: String, routingIDs: Set<String>) {
            self.name = name
            self.publicKey = publicKey
            self.routingIDs = routingIDs
        }
    }

    public struct Policy: Sendable {
        /// The server's CURVE secret key, Z85; nil: no CURVE.
        public var secretKey: String?
        public var clients: [Client]
        /// Whether a peer may connect from an address; nil: from any.
        public var allows: (@Sendable (String) -> Bool)?

        public init(secretKey: String?, clients: [Client] = [], allows: (@Sendable (String) -> Bool)? = nil) {
            self.secretKey = secretKey
            self.clients = clients
            self.allows = allows
        }
    }

    /// The sockets the flows bind, named by their keys under `flows:`; each is its ZAP domain.
    public enum Endpoint: String, Sendable, CaseIterable {
        case telemetryIn = "telemetry_in"
        case telemetryOut = "telemetry_out"
        case router
        case confirmations
    }

    private let policy: Policy
    private let clientsByKey: [String: Client]
    private let clientsByName: [String: Client]
    private let logger: Logger
    /// Per endpoint, the counters of the flow that binds it and the address it was bound to.
    private let guarded = Mutex<[Endpoint: (counters: FlowCounters, address: String)]>([:])
    private let logState = Mutex<(lastLogged: Date, suppressed: Int)>((.distantPast, 0))

    public init(policy: Policy, logger: Logger) {
        self.policy = policy
        clientsByKey = Dictionary(policy.clients.map { ($0.publicKey, $0) }, uniquingKeysWith: { first, _ in first })
        clientsByName = Dictionary(policy.clients.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.logger = logger
    }

    /// Whether peers must hold a CURVE key, which also ties routing ids to keys.
    public var usesCurve: Bool { policy.secretKey != nil }

    /// Starts the ZAP handler of `context`; call it before any flow opens.
    public func start(in context: ZMQContext) throws(ZMQError) {
        _ = try ZAPHandler(context) { [self] request in decide(request) }
    }

    /// Makes `socket`, bound by a flow as `endpoint`, let peers in only when the ZAP handler says so.
    public func guardSocket(_ socket: ZMQSocket, as endpoint: Endpoint, address: String, counters: FlowCounters) throws(ZMQError) {
        guarded.withLock { $0[endpoint] = (counters, address) }
        if let secretKey = policy.secretKey {
            try socket.setCurveServer(secretKey: secretKey)
            // A routing id is trusted only while the connection that proved its key lasts
            // (RoutingClaims): with handover, another connection could take it over unseen.
            if endpoint == .router { try socket.setRouterHandover(false) }
        }
        try socket.setZAPDomain(endpoint.rawValue)
    }

    /// Whether the key a connection came with (its user id) may speak for `routingID`; when not,
    /// the refusal is counted and logged (`what` says what the peer did) and the caller drops it.
    func allows(_ userID: String?, toUse routingID: String, on endpoint: Endpoint, _ what: String) -> Bool {
        allows(client(named: userID), toUse: routingID, on: endpoint, what)
    }

    func allows(_ client: Client?, toUse routingID: String, on endpoint: Endpoint, _ what: String) -> Bool {
        if let client, client.routingIDs.contains(routingID) { return true }
        refused(.routingIDNotAllowed, on: endpoint, "'\(client?.name ?? "a peer")' \(what), which its key may not use; dropped")
        return false
    }

    /// The client a connection's user id names.
    func client(named userID: String?) -> Client? {
        userID.flatMap { clientsByName[$0] }
    }

    func decide(_ request: ZAPHandler.Request) -> ZAPHandler.Decision {
        guard let endpoint = Endpoint(rawValue: request.domain) else { return .refuse("unknown ZAP domain") }
        let from = request.address.isEmpty ? "" : " from \(request.address)"
        if let allows = policy.allows, !request.address.isEmpty, !allows(request.address) {
            return refuse(.addressNotAllowed, on: endpoint, "a peer at \(request.address) is outside flows.security.allow")
        }
        guard usesCurve else { return .allow(userID: "") }
        guard request.mechanism == "CURVE", let key = request.clientKey else {
            return refuse(.noKey, on: endpoint, "a peer\(from) came without a CURVE key")
        }
        guard let client = clientsByKey[key] else {
            return refuse(.unknownKey, on: endpoint, "a peer\(from) has CURVE key \(key), which is not among flows.security.curve.clients")
        }
        if endpoint == .router && client.routingIDs.isEmpty {
            return refuse(.routingIDNotAllowed, on: endpoint, "'\(client.name)'\(from) has no routing_ids, so it may not connect to the router")
        }
        return .allow(userID: client.name)
    }

    private func refuse(_ reason: RefusalReason, on endpoint: Endpoint, _ detail: String) -> ZAPHandler.Decision {
        refused(reason, on: endpoint, detail)
        return .refuse(reason.rawValue)
    }

    /// Counts a refusal on the flow that binds `endpoint` and logs it, at most once a second with
    /// the number refused since.
    func refused(_ reason: RefusalReason, on endpoint: Endpoint, _ detail: String, now: Date = Date()) {
        let bound = guarded.withLock { $0[endpoint] }
        bound?.counters.refused(reason)
        let suppressed = logState.withLock { state -> Int? in
            guard now.timeIntervalSince(state.lastLogged) >= 1 else {
                state.suppressed += 1
                return nil
            }
            defer { state = (now, 0) }
            return state.suppressed
        }
        guard let suppressed else { return }
        var metadata: Logger.Metadata = ["endpoint": "\(endpoint.rawValue)", "reason": "\(reason.rawValue)"]
        if suppressed > 0 { metadata["refused_since_last_log"] = "\(suppressed)" }
        logger.warning("refused a peer on \(bound?.address ?? endpoint.rawValue): \(detail)", metadata: metadata)
    }
}
