import Foundation
import RunbookCore
import RunbookModel
import RunbookStore
import Synchronization

/// What the engine offers steps and probes alike, by name and type: what a primitive or a probe
/// can reach is what this struct holds, and the compiler says so. Each is nil where the command
/// running them has none (a bare executor, `runbook check` without an engine), and the step or
/// probe that needs it says what to run instead.
public struct EngineServices: Sendable {
    /// The running engine: its services' states, counters and restarts.
    public var engine: (any EngineControl)?
    /// What the records say about the flows: EAs, signals, fires, trades, test probes.
    public var records: (any HealthRecords)?
    /// The open alerts of the checks.
    public var alerts: (any AlertBook)?
    /// The checks of the configuration, evaluated on demand (`check`, `clear_alerts`).
    public var checks: (any CheckRunning)?
    /// Incidents and the outbox (`escalate`, `notify`); the executor masks a run's secrets in it.
    public var escalation: (any Escalating)?
    /// The flows' endpoints as configured (`probe` sends its test fire to the command queue).
    public var flows: FlowEndpoints?
    public var market: MarketCalendar
    /// Folder relative paths are read against.
    public var workingDirectory: String
    /// The records database, the default of probes that read a database.
    public var databasePath: String?
    /// The configured tick store, SQLite or PostgreSQL (`compress`, `retention`, `tick_counts`,
    /// the `tick_store` probe).
    public var ticks: TickStoreAccess?
    /// The engines sharing the records, where they do (`engine_heartbeat`).
    public var fleet: (any FleetStore)?
    /// The kill switch on the command router (`gate`).
    public var gate: GateKeeper?
    /// Where runs wait for people's answers (`approve`): the records.
    public var approvals: (any ApprovalStore)?
    /// How often a waiting `approve` step reads the answers.
    public var approvalPoll: Duration = .seconds(1)
    /// The EAs marked `canary: true` in runbook.yaml (`fire_round_trip`).
    public var canaries: [String] = []
    /// Servers the `sql` step and probe reach by URL (PostgreSQL).
    public var sqlServers: (any SQLServers)?
    /// For a check that counts only while the market is open: when it last opened. Ages are not
    /// counted from before it (the weekend is no silence).
    public var sessionStart: Date?
    /// The wall clock.
    public var now: @Sendable () -> Date

    public init(
        engine: (any EngineControl)? = nil, records: (any HealthRecords)? = nil, alerts: (any AlertBook)? = nil, checks: (any CheckRunning)? = nil,
        escalation: (any Escalating)? = nil, flows: FlowEndpoints? = nil, market: MarketCalendar = MarketCalendar(),
        workingDirectory: String = FileManager.default.currentDirectoryPath, databasePath: String? = nil,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.engine = engine
        self.records = records
        self.alerts = alerts
        self.checks = checks
        self.escalation = escalation
        self.flows = flows
        self.market = market
        self.workingDirectory = workingDirectory
        self.databasePath = databasePath
        self.now = now
    }

    public func resolvePath(_ path: String) -> String {
        path.hasPrefix("/") ? path : (workingDirectory as NSString).appendingPathComponent(path)
    }
}

/// The engine's tick store as steps and probes reach it: opened on first use and kept, or the
/// engine's own, already open.
public final class TickStoreAccess: Sendable, CustomStringConvertible {
    /// Where it is, with no password: `SQLite file var/ticks.db`, `PostgreSQL at postgresql://user:***@host:5432/ticks`.
    public let description: String
    private let opener: @Sendable () async throws -> any TickStore
    private let opened = Mutex<(any TickStore)?>(nil)

    public init(_ description: String, open: @escaping @Sendable () async throws -> any TickStore) {
        self.description = description
        opener = open
    }

    public convenience init(_ description: String, store: any TickStore) {
        self.init(description, open: { store })
    }

    public func store() async throws -> any TickStore {
        if let store = opened.withLock({ $0 }) { return store }
        let store = try await opener()
        return opened.withLock { opened in
            if let earlier = opened { return earlier }
            opened = store
            return store
        }
    }
}

/// The checks of a configuration as steps reach them.
public protocol CheckRunning: Sendable {
    /// Evaluates the check named `name` now.
    func evaluate(_ name: String) async throws -> CheckResult
    /// Evaluates every check now, in parallel.
    func evaluateAll() async -> [CheckResult]
}

/// Database servers a `sql` step or probe can query by URL, beside SQLite files: PostgreSQL,
/// from its adapter.
public protocol SQLServers: Sendable {
    /// Whether `database` is a URL of a server these reach (`postgresql://...`).
    func handles(_ database: String) -> Bool
    /// Runs one statement with `binds` (text, typed by the server), in a read-only transaction
    /// when `readonly`; the columns and the rows, each cell as a value.
    func query(_ database: String, sql: String, binds: [String], readonly: Bool) async throws -> (columns: [String], rows: [[Value]])
}
