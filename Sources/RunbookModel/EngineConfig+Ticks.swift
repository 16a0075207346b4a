import Foundation
import Yams

/// Tick storage (`ticks:` in runbook.yaml).
public struct TickSettings: Sendable, Equatable {
    /// How often the tick journal is written to the disk: the most a machine crash (power, kernel)
    /// can take of the ticks relayed. A crash of the process alone takes none.
    public var syncInterval: Duration = .milliseconds(200)
    /// Whether relayed frames are journaled before they are stored. Off, a crash of the process
    /// loses what was relayed and not yet stored (Docs/benchmarks.md gives what it saves).
    public var journal = true

    public init() {}

    static let keys = ["sync_interval", "journal"]
}

/// A store's backend: the tick store (`store:` in runbook.yaml) or the records (`records:`).
/// `sqlite` (a file in the data folder, the default) or `postgresql`, whose URL, password
/// included, is read from the environment variable `url_env` names and never from the file.
public struct StoreSettings: Sendable, Equatable {
    public enum Backend: String, Sendable, CaseIterable {
        case sqlite, postgresql
    }

    public var backend = Backend.sqlite
    public var urlEnvironment = "RUNBOOK_STORE_URL"

    public init(backend: Backend = .sqlite, urlEnvironment: String = "RUNBOOK_STORE_URL") {
        self.backend = backend
        self.urlEnvironment = urlEnvironment
    }

    static let keys = ["backend", "url_env"]
}

/// This engine among those sharing one records database (`engine:` in runbook.yaml).
public struct EngineIdentity: Sendable, Equatable {
    /// What its records are kept under, and what the fleet shows: the host name by default.
    public var name: String = EngineIdentity.hostName
    /// How long the leader's lease lasts without a renewal (every third of it): how long a fleet
    /// can be without a leader when its leader dies.
    public var leaseTTL: Duration = .seconds(10)

    public init() {}

    public init(name: String) {
        self.name = name
    }

    /// The machine's host name, up to its first dot.
    public static var hostName: String {
        let host = ProcessInfo.processInfo.hostName
        return String(host.split(separator: ".").first ?? Substring(host.isEmpty ? "engine" : host))
    }

    static let keys = ["name", "lease_ttl"]
}

extension EngineConfig {
    /// `store:` or `records:`: `backend`, `url_env`.
    mutating func readStore(_ node: Node, key: String, into keyPath: WritableKeyPath<EngineConfig, StoreSettings>, _ source: inout YAMLSource) {
        guard let entries = source.entries(node, what: key) else { return }
        source.rejectUnknownKeys(entries, allowed: StoreSettings.keys, in: key)
        for (name, _, value) in entries {
            switch name {
            case "backend":
                guard let text = source.string(value, what: "\(key).backend") else { continue }
                guard let backend = StoreSettings.Backend(rawValue: text) else {
                    source.error(value, "\(key).backend '\(text)' is not known: write sqlite (the default) or postgresql")
                    continue
                }
                self[keyPath: keyPath].backend = backend
            case "url_env":
                guard let variable = source.string(value, what: "\(key).url_env") else { continue }
                guard variable.range(of: "^[A-Za-z_][A-Za-z0-9_]*$", options: .regularExpression) != nil else {
                    source.error(
                        value, "\(key).url_env must name an environment variable (such as \(self[keyPath: keyPath].urlEnvironment)), not hold the URL: the password stays out of the file"
                    )
                    continue
                }
                self[keyPath: keyPath].urlEnvironment = variable
            default: break
            }
        }
    }

    /// `engine:`: `name`, `lease_ttl`.
    mutating func readEngine(_ node: Node, _ source: inout YAMLSource) {
        guard let entries = source.entries(node, what: "engine") else { return }
        source.rejectUnknownKeys(entries, allowed: EngineIdentity.keys, in: "engine")
        for (key, _, value) in entries where key == "lease_ttl" {
            guard let ttl = source.duration(value, what: "engine.lease_ttl") else { continue }
            guard ttl >= .seconds(1), ttl <= .seconds(300) else {
                source.error(value, "engine.lease_ttl must be from 1s to 5m: it is how long a fleet waits for a dead leader's lease to expire")
                continue
            }
            engine.leaseTTL = ttl
        }
        for (key, _, value) in entries where key == "name" {
            guard let name = source.string(value, what: "engine.name") else { continue }
            guard name.range(of: "^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$", options: .regularExpression) != nil else {
                source.error(value, "engine.name '\(name.prefix(64))' must be 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit, such as trade-01")
                continue
            }
            engine.name = name
        }
    }

    /// `ticks:`: `sync_interval`.
    mutating func readTicks(_ node: Node, _ source: inout YAMLSource) {
        guard let entries = source.entries(node, what: "ticks") else { return }
        source.rejectUnknownKeys(entries, allowed: TickSettings.keys, in: "ticks")
        for (key, _, value) in entries where key == "journal" {
            guard let scalar = value.scalar, let flag = Bool(scalar.string) else {
                source.error(value, "ticks.journal must be true or false")
                continue
            }
            ticks.journal = flag
        }
        for (key, _, value) in entries where key == "sync_interval" {
            guard let interval = source.duration(value, what: "ticks.sync_interval") else { continue }
            guard interval >= .milliseconds(1), interval <= .seconds(60) else {
                source.error(value, "ticks.sync_interval must be from 1ms to 60s: it is what a machine crash can take of the ticks")
                continue
            }
            ticks.syncInterval = interval
        }
    }
}

/// One EA of `eas:` in runbook.yaml.
public struct EASettings: Sendable, Equatable {
    /// A demo account's EA that receives canary fires (`fire_round_trip`).
    public var canary = false

    public init(canary: Bool = false) {
        self.canary = canary
    }
}

extension EngineConfig {
    /// `eas: {ea-01: {canary: true}}`.
    mutating func readEAs(_ node: Node, _ source: inout YAMLSource) {
        guard let entries = source.entries(node, what: "eas") else { return }
        for (name, _, value) in entries {
            guard name.range(of: "^[A-Za-z0-9._:-]{1,128}$", options: .regularExpression) != nil else {
                source.error(value, "eas: '\(name.prefix(64))' is not an EA's target_uuid (letters, digits, '.', '_', ':' or '-')")
                continue
            }
            guard let settings = source.entries(value, what: "eas.\(name)") else { continue }
            source.rejectUnknownKeys(settings, allowed: ["canary"], in: "eas.\(name)")
            var ea = EASettings()
            for (key, _, flag) in settings where key == "canary" {
                guard let scalar = flag.scalar, let canary = Bool(scalar.string) else {
                    source.error(flag, "eas.\(name).canary must be true or false")
                    continue
                }
                ea.canary = canary
            }
            eas[name] = ea
        }
    }
}
