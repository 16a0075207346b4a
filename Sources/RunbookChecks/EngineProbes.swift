import Foundation
import RunbookCore
import RunbookModel
import RunbookSteps

/// Services of the engine (flows and supervised programs) running, with their ports bound.
/// Value: services not up.
public struct ServiceProbe: Probe {
    public static let spec = ProbeSpec(
        name: "service", summary: "services running with their ports bound: names, `flows` or `all` (value: services not up)",
        inputs: [InputSpec("names", .stringList)], unit: .count, critical: Threshold(.above, 0), shorthand: "names"
    )

    public var names: [String]

    public init(inputs: [String: Value]) throws(ProbeInputError) {
        names = inputs.texts("names")
        if names.isEmpty { names = ["all"] }
    }

    /// The services `names` picks out of a snapshot: `flows` and `all` stand for groups.
    static func pick(_ names: [String], from snapshot: EngineSnapshot) throws -> [ServiceSnapshot] {
        var picked: [ServiceSnapshot] = []
        for name in names {
            switch name {
            case "all": picked += snapshot.services
            case "flows": picked += snapshot.services.filter { $0.kind == .flow }
            default:
                guard let service = snapshot.service(name) else {
                    throw ProbeFailure("the engine has no service '\(name)'\(Suggestion.hint(for: name, in: snapshot.services.map(\.name))); it runs \(snapshot.services.map(\.name).joined(separator: ", "))")
                }
                picked.append(service)
            }
        }
        return picked
    }

    public func read(in environment: EngineServices) async throws -> ProbeReading {
        let snapshot: EngineSnapshot
        do {
            snapshot = try await environment.requireEngine().snapshot()
        } catch let error as EngineUnavailable {
            // No engine at all means none of its services runs.
            return ProbeReading(value: Double(max(names.count, 1)), text: error.description, subject: "engine")
        }
        let services = try Self.pick(names, from: snapshot)
        let down = services.filter { !$0.isUp }
        if down.isEmpty {
            return ProbeReading(value: 0, text: services.count == 1 ? "\(services[0].name) running" : "\(services.count) services running")
        }
        let text = down.map { service in "\(service.name) \(service.state)" + (service.problem.map { ": \($0)" } ?? "") }.joined(separator: "; ")
        return ProbeReading(value: Double(down.count), text: text, subject: down[0].name)
    }
}

/// Restarts of services within their restart window (an hour by default). Value: the most of any
/// one service.
public struct RestartsProbe: Probe {
    public static let spec = ProbeSpec(
        name: "restarts", summary: "restarts in the restart window (an hour by default) of the busiest service (value: count)",
        inputs: [InputSpec("names", .stringList)], unit: .count, warning: Threshold(.above, 1), shorthand: "names"
    )

    public var names: [String]

    public init(inputs: [String: Value]) throws(ProbeInputError) {
        names = inputs.texts("names")
        if names.isEmpty { names = ["all"] }
    }

    public func read(in environment: EngineServices) async throws -> ProbeReading {
        let snapshot = try await environment.requireEngine().snapshot()
        let services = try ServiceProbe.pick(names, from: snapshot)
        guard let busiest = services.max(by: { $0.restarts < $1.restarts }) else { return ProbeReading(value: 0, text: "no services") }
        return ProbeReading(value: Double(busiest.restarts), text: "\(busiest.name): \(busiest.restarts) restart(s)", subject: busiest.name)
    }
}

/// Peers connected to the command router's ROUTER that have not said who they are with a
/// heartbeat in the last minute: stray DEALERs (an old EA instance, a test client). Value: strays.
public struct RouterPeersProbe: Probe {
    public static let spec = ProbeSpec(
        name: "router_peers", summary: "peers on the command router's ROUTER that send no heartbeat (value: stray peers)",
        inputs: [InputSpec("service", .string)], unit: .count, warning: Threshold(.above, 0), shorthand: "service"
    )

    public var service: String

    public init(inputs: [String: Value]) throws(ProbeInputError) {
        service = inputs.text("service") ?? "command-router"
    }

    public func read(in environment: EngineServices) async throws -> ProbeReading {
        let snapshot = try await environment.requireEngine().snapshot()
        guard let router = try ServiceProbe.pick([service], from: snapshot).first, let connected = router.peers else {
            throw ProbeFailure("\(service) does not count its peers")
        }
        let identified = router.identifiedPeers ?? 0
        let strays = max(0, connected - identified)
        return ProbeReading(
            value: Double(strays), text: "\(connected) peer(s) connected, \(identified) sending heartbeats" + (strays > 0 ? ", \(strays) stray" : ""),
            subject: service
        )
    }
}
