import Foundation

/// Which connection holds each routing id on the command router, when CURVE ties routing ids to
/// keys. libzmq's ZAP request does not carry the routing id a DEALER presents, so a routing id is
/// trusted only once a message on it came with a key allowed to use it (any message: a heartbeat,
/// or the empty one a DEALER with ZMQ_PROBE_ROUTER sends on connecting), and only while that
/// connection lasts. With CURVE the router keeps ROUTER_HANDOVER off, so no other connection can
/// take a routing id while the one that proved it is connected.
///
/// Without handover libzmq also leaves a connection that came with a routing id already held
/// unread for good (an EA back before its lost connection was noticed): connections that say
/// nothing for `quietLimit` are closed, so that such an EA connects again and takes its id.
struct RoutingClaims {
    /// Routing id to the descriptor of the connection that proved it.
    private var proven: [String: Int32] = [:]
    /// Connections accepted that have not sent anything yet, with when they were accepted.
    private var quiet: [Int32: Date] = [:]
    /// Connections dropped lately, by user id and routing id: messages they had already sent
    /// are ignored rather than dropped again (their descriptor may be another connection's by then).
    private var dropped: [String: Date] = [:]
    static let droppedFor: TimeInterval = 5
    /// How long a connection may say nothing: longer than the router takes to find a lost
    /// connection dead (about 20 s).
    let quietLimit: TimeInterval
    static let defaultQuietLimit: TimeInterval = 30

    init(quietLimit: TimeInterval = Self.defaultQuietLimit) {
        self.quietLimit = quietLimit
    }

    func holds(_ routingID: String) -> Bool {
        proven[routingID] != nil
    }

    /// A message on `routingID` from a connection with `client`'s key: whether the key may use it.
    mutating func message(on routingID: String, from client: FlowAccess.Client?, descriptor: Int32?) -> Bool {
        guard let descriptor else { return false }
        quiet[descriptor] = nil
        guard let client, client.routingIDs.contains(routingID) else { return false }
        proven[routingID] = descriptor
        return true
    }

    /// Notes that the connection of `userID` on `routingID` is being dropped; false when it was
    /// dropped lately already (its messages are then ignored).
    mutating func markDropped(_ routingID: String, userID: String?, now: Date = Date()) -> Bool {
        dropped = dropped.filter { now.timeIntervalSince($0.value) < Self.droppedFor }
        let key = "\(userID ?? "")\u{0}\(routingID)"
        guard dropped[key] == nil else { return false }
        dropped[key] = now
        return true
    }

    mutating func accepted(_ descriptor: Int32, at date: Date = Date()) {
        quiet[descriptor] = date
    }

    /// The connection at `descriptor` has gone: it holds no routing id any more.
    mutating func disconnected(_ descriptor: Int32) {
        proven = proven.filter { $0.value != descriptor }
        quiet[descriptor] = nil
    }

    /// Connections that have said nothing for `quietLimit`, forgotten as they are returned.
    mutating func tooQuiet(now: Date = Date()) -> [Int32] {
        let silent = quiet.filter { now.timeIntervalSince($0.value) >= quietLimit }.map(\.key)
        for descriptor in silent { quiet[descriptor] = nil }
        return silent
    }
}
