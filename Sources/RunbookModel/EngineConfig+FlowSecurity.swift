import Foundation
import Yams

/// Who may connect to the sockets the flows bind (`flows.security:` in runbook.yaml): the router,
/// telemetry in and out, and the confirmations. The command queue is a local ipc file and is not
/// covered.
///
/// - `curve`: ZeroMQ CURVE. `secret_key_file` is the server's secret key (Z85, from `runbook
///   keys`; mode 0600); `clients` lists who may connect, each with a `name`, its `public_key`
///   (Z85) and the `routing_ids` it may use on the router (none: it may not connect to the router).
/// - `allow`: the addresses peers may connect from, as CIDR blocks or single addresses; with or
///   without CURVE.
public struct FlowSecurity: Sendable, Equatable {
    /// A peer's key and what it may do.
    public struct Client: Sendable, Equatable {
        public var name: String
        /// Its CURVE public key, Z85 (40 characters).
        public var publicKey: String
        /// The DEALER routing ids it may present to the router (EA target_uuids).
        public var routingIDs: [String]

        public init(name: String, publicKey: String, routingIDs: [String] = []) {
            self.name = name
            self.publicKey = publicKey
            self.routingIDs = routingIDs
        }
    }

    /// The server's CURVE secret key file; nil: no CURVE.
    public var secretKeyFile: String?
    public var clients: [Client] = []
    /// Empty: any address.
    public var allow: [AddressRange] = []

    public init() {}

    public var usesCurve: Bool { secretKeyFile != nil }

    /// Neither CURVE nor an allowlist: whoever reaches a port may connect.
    public var acceptsAnyone: Bool { !usesCurve && allow.isEmpty }

    static let keys = ["curve", "allow"]
    static let curveKeys = ["secret_key_file", "clients"]
    static let clientKeys = ["name", "public_key", "routing_ids"]

    /// Whether `text` is a CURVE key in Z85: 40 characters of ZeroMQ's Z85 alphabet.
    public static func isKey(_ text: String) -> Bool {
        text.count == 40 && text.allSatisfy { z85Alphabet.contains($0) }
    }

    private static let z85Alphabet = Set("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#")
}

extension FlowEndpoints {
    /// The endpoints the flows bind beyond loopback, as `key endpoint`, while they accept anyone.
    public var openToAnyone: [String] {
        guard security.acceptsAnyone else { return [] }
        let bound = [("telemetry_in", telemetryIn), ("telemetry_out", telemetryOut), ("router", router), ("confirmations", confirmations)]
        return bound.filter { Self.isBeyondLoopback($0.1) }.map { "\($0.0) \($0.1)" }
    }

    /// The warning while flows beyond loopback accept anyone; nil when none do.
    public var exposureWarning: String? {
        let open = openToAnyone
        guard !open.isEmpty else { return nil }
        return "flows bound beyond loopback accept anyone (neither CURVE nor an allowlist): \(open.joined(separator: ", ")); "
            + "whoever reaches these ports can take an EA's fires, confirm fires and register EAs: set flows.security in runbook.yaml"
    }

    /// A TCP endpoint on an address other machines can reach (`*`, `0.0.0.0`, an interface or a
    /// non-loopback address).
    static func isBeyondLoopback(_ endpoint: String) -> Bool {
        guard endpoint.hasPrefix("tcp://"), let colon = endpoint.lastIndex(of: ":") else { return false }
        let host = endpoint[endpoint.index(endpoint.startIndex, offsetBy: 6)..<colon]
        return !(ChannelSettings.isLoopback(String(host)) || host == "lo")
    }
}

extension EngineConfig {
    /// `flows.security:`: `curve` (`secret_key_file`, `clients`) and `allow`.
    mutating func readFlowSecurity(_ node: Node, _ source: inout YAMLSource) {
        guard let entries = source.entries(node, what: "flows.security") else { return }
        source.rejectUnknownKeys(entries, allowed: FlowSecurity.keys, in: "flows.security")
        for (key, _, value) in entries {
            switch key {
            case "curve": readCurve(value, &source)
            case "allow":
                guard let items = value.sequence else {
                    source.error(value, "flows.security.allow must be a list of addresses or CIDR blocks, such as [10.0.0.0/8, 192.168.1.20]")
                    continue
                }
                for item in items {
                    guard let text = source.string(item, what: "an address") else { continue }
                    guard let range = AddressRange(text) else {
                        source.error(item, "'\(text)' is not an address or CIDR block: write it like 10.0.0.0/8, 192.168.1.20 or fd00::/8")
                        continue
                    }
                    flows.security.allow.append(range)
                }
            default: break
            }
        }
    }

    private mutating func readCurve(_ node: Node, _ source: inout YAMLSource) {
        guard let entries = source.entries(node, what: "flows.security.curve") else { return }
        for (key, _, value) in entries where key == "secret_key" {
            source.error(value, "write the server's secret key in a file and name it with secret_key_file (runbook keys makes one), never in runbook.yaml", masking: value.scalar?.string ?? "")
        }
        source.rejectUnknownKeys(entries.filter { $0.key != "secret_key" }, allowed: FlowSecurity.curveKeys, in: "flows.security.curve")
        let base = (source.file as NSString).deletingLastPathComponent
        var clientsGiven = false
        for (key, _, value) in entries {
            switch key {
            case "secret_key_file":
                guard let path = source.string(value, what: "flows.security.curve.secret_key_file") else { continue }
                flows.security.secretKeyFile = path.hasPrefix("/") || base.isEmpty ? path : (base as NSString).appendingPathComponent(path)
            case "clients":
                clientsGiven = true
                readClients(value, &source)
            default: break
            }
        }
        if flows.security.secretKeyFile == nil {
            source.error(node, "flows.security.curve needs secret_key_file: the server's secret key, made by runbook keys")
        }
        if !clientsGiven {
            source.error(node, "flows.security.curve needs clients: each EA's or program's public key, or no one could connect")
        }
    }

    private mutating func readClients(_ node: Node, _ source: inout YAMLSource) {
        guard let items = node.sequence else {
            source.error(node, "flows.security.curve.clients must be a list of clients, each with name, public_key and routing_ids")
            return
        }
        for item in items {
            guard let entries = source.entries(item, what: "a client") else { continue }
            source.rejectUnknownKeys(entries, allowed: FlowSecurity.clientKeys, in: "a client")
            let field = { (key: String) in entries.first { $0.key == key }?.value }
            guard let name = field("name").flatMap({ source.string($0, what: "name") }),
                  let keyNode = field("public_key"), let key = source.string(keyNode, what: "public_key")
            else {
                source.error(item, "a client needs name and public_key")
                continue
            }
            guard FlowSecurity.isKey(key) else {
                source.error(keyNode, "public_key of '\(name)' is not a CURVE public key: 40 characters of Z85, as runbook keys prints")
                continue
            }
            var client = FlowSecurity.Client(name: name, publicKey: key)
            if let ids = field("routing_ids") {
                if let list = ids.sequence {
                    client.routingIDs = list.compactMap { source.string($0, what: "a routing id") }.filter { !$0.isEmpty }
                } else {
                    source.error(ids, "routing_ids must be a list of the EAs' routing ids (target_uuid), such as [ea-01, ea-02]")
                }
            }
            if flows.security.clients.contains(where: { $0.name == name }) {
                source.error(item, "client name '\(name)' is used twice: give each its own")
            } else if let other = flows.security.clients.first(where: { $0.publicKey == key }) {
                source.error(keyNode, "'\(name)' has the same public key as '\(other.name)': give each client its own key pair")
            } else {
                flows.security.clients.append(client)
            }
        }
    }
}
