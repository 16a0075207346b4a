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

/// The tick store (`store:` in runbook.yaml): `sqlite` (a file in the data folder, the default)
/// or `postgresql`, whose URL, password included, is read from the environment variable
/// `url_env` names and never from the file.
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

extension EngineConfig {
    /// `store:`: `backend`, `url_env`.
    mutating func readStore(_ node: Node, _ source: inout YAMLSource) {
        guard let entries = source.entries(node, what: "store") else { return }
        source.rejectUnknownKeys(entries, allowed: StoreSettings.keys, in: "store")
        for (key, _, value) in entries {
            switch key {
            case "backend":
                guard let text = source.string(value, what: "store.backend") else { continue }
                guard let backend = StoreSettings.Backend(rawValue: text) else {
                    source.error(value, "store.backend '\(text)' is not known: write sqlite (the default) or postgresql")
                    continue
                }
                store.backend = backend
            case "url_env":
                guard let name = source.string(value, what: "store.url_env") else { continue }
                guard name.range(of: "^[A-Za-z_][A-Za-z0-9_]*$", options: .regularExpression) != nil else {
                    source.error(value, "store.url_env must name an environment variable (such as RUNBOOK_STORE_URL), not hold the URL: the password stays out of the file")
                    continue
                }
                store.urlEnvironment = name
            default: break
            }
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
