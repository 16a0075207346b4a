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

extension EngineConfig {
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
