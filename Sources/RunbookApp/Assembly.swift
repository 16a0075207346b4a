import Foundation
import Logging
import RunbookChecks
import RunbookCore
import RunbookCurl
import RunbookEngine
import RunbookEscalation
import RunbookExecutor
import RunbookModel
import RunbookPostgres
import RunbookSQLite
import RunbookSteps
import RunbookStore

/// The parts a command needs, assembled from the configuration: where the engine keeps its
/// files, the records, the runbooks, checks and schedules, the incident desk, the executor.
public struct Assembly: Sendable {
    public let config: EngineConfig
    public let loader = RunbookLoader(catalog: Catalog.steps)
    /// EAs marked canary by `runbook up --simulate` rather than by the configuration (its
    /// simulated ea-01): the engine's state names them, so that a check from a shell sends there too.
    public let simulatedCanaries: [String]

    public init(config: EngineConfig, simulatedCanaries: [String] = []) {
        var config = config
        for ea in simulatedCanaries { config.eas[ea] = EASettings(canary: true) }
        self.config = config
        self.simulatedCanaries = simulatedCanaries
    }

    /// The tick store, beside the records.
    public var tickStorePath: String { (config.dataDirectory as NSString).appendingPathComponent("ticks.db") }

    /// The configured tick store, opened (and made or migrated); `nil` when it is the embedded
    /// one and `mustExist` while its file does not yet.
    /// For the engine, a PostgreSQL server that cannot be reached is not an error: the store
    /// connects when the server answers, and ticks wait in the spool until then. One that refuses
    /// the user, the password or the database is, at start.
    public func openTickStore(environment: [String: String] = ProcessInfo.processInfo.environment, mustExist: Bool = false, waitForServer: Bool = false) async throws(AssemblyError) -> (any TickStore)? {
        switch config.store.backend {
        case .sqlite:
            if mustExist, !FileManager.default.fileExists(atPath: tickStorePath) { return nil }
            do {
                return try SQLiteTickStore(path: tickStorePath, alignment: alignment)
            } catch {
                throw .tickStore("\(error)")
            }
        case .postgresql:
            let name = config.store.urlEnvironment
            let url: PostgresURL
            do {
                url = try Self.postgresURL(of: config.store, key: "store", environment: environment)
            } catch {
                throw .tickStore(error.description)
            }
            let writer = tickWriter
            do {
                return try await PostgresTickStore.open(url: url, alignment: alignment, writer: writer)
            } catch let error as PostgresStoreError where waitForServer && !(error.sqlState.map(Self.refusesStart) ?? false) {
                Logger(label: "runbook.ticks").warning("\(error); ticks go to the spool until it answers")
                return PostgresTickStore.unprepared(url: url, alignment: alignment, writer: writer)
            } catch {
                throw .tickStore("\(error) (the URL is from \(name))")
            }
        }
    }

    /// Why there is no PostgreSQL URL in an environment variable; said without its password.
    struct URLProblem: Error, CustomStringConvertible {
        var description: String
        /// The variable is not set (or empty), rather than holding no valid URL.
        var unset: Bool
    }

    /// The URL of a store configured under `key` (`store`, `records`) on PostgreSQL.
    static func postgresURL(of settings: StoreSettings, key: String, environment: [String: String]) throws(URLProblem) -> PostgresURL {
        do {
            return try postgresURL(in: settings.urlEnvironment, environment: environment)
        } catch where error.unset {
            throw URLProblem(description: "\(key).backend is postgresql but \(error)", unset: true)
        }
    }

    /// The PostgreSQL URL in the environment variable `name`.
    static func postgresURL(in name: String, environment: [String: String]) throws(URLProblem) -> PostgresURL {
        guard let text = environment[name], !text.isEmpty else {
            throw URLProblem(description: "\(name) is not set: export \(name)=postgresql://USER:PASSWORD@HOST:PORT/DATABASE", unset: true)
        }
        do {
            return try PostgresURL(text)
        } catch {
            throw URLProblem(description: "\(error) (the URL is from \(name))", unset: false)
        }
    }

    /// The copy of the SQLite tick store into the PostgreSQL store whose URL is in the variable
    /// `urlEnvironment` (by default the configuration's `store.url_env`), both opened;
    /// `batch` ticks or bars per transaction.
    public func tickStoreMigration(urlEnvironment: String? = nil, batch: Int, environment: [String: String] = ProcessInfo.processInfo.environment) async throws(AssemblyError) -> TickStoreMigration {
        guard FileManager.default.fileExists(atPath: tickStorePath) else {
            throw .tickMigration("no SQLite tick store at \(tickStorePath): nothing to migrate (`runbook up` makes it when it stores ticks)")
        }
        let name = urlEnvironment ?? config.store.urlEnvironment
        let url: PostgresURL
        do {
            url = try Self.postgresURL(in: name, environment: environment)
        } catch {
            throw .tickMigration("\(error)")
        }
        let source: SQLiteTickStore
        do {
            source = try SQLiteTickStore(path: tickStorePath, alignment: alignment)
        } catch {
            throw .tickMigration("\(error)")
        }
        do {
            return TickStoreMigration(source: source, target: try await PostgresTickStore.open(url: url, alignment: alignment, writer: tickWriter), batch: batch)
        } catch {
            throw .tickMigration("\(error) (the URL is from \(name))")
        }
    }

    /// A server's answer that no waiting will change: a refused user or password (28xxx), an
    /// unknown database (3D000). Anything else (a server starting up, out of connections, not
    /// reachable yet) the engine waits out, spooling.
    static func refusesStart(_ sqlState: String) -> Bool {
        sqlState.hasPrefix("28") || sqlState == "3D000"
    }

    /// This engine's name among the writers of a shared tick store: made once, kept in
    /// `DATA_DIR/ticks.writer` (so a restart goes on numbering its batches where it stopped).
    public var tickWriter: String {
        let path = (config.dataDirectory as NSString).appendingPathComponent("ticks.writer")
        if let text = try? String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines), !text.isEmpty { return text }
        let made = "\(ProcessInfo.processInfo.hostName)-\(UUID().uuidString.prefix(8).lowercased())"
        try? FileManager.default.createDirectory(atPath: config.dataDirectory, withIntermediateDirectories: true)
        guard (try? made.write(toFile: path, atomically: true, encoding: .utf8)) != nil else { return "default" }
        return made
    }

    /// Bars aligned in the configured server time zone.
    public var alignment: BarAlignment { BarAlignment(timeZone: TimeZone(identifier: config.serverTimeZone) ?? TimeZone(identifier: "UTC")!) }

    /// Where ticks wait while the tick store is down.
    public var spoolPath: String { (config.dataDirectory as NSString).appendingPathComponent("ticks.spool") }

    /// Where the flows' records wait while the records cannot be reached.
    public var flowSpoolPath: String { (config.dataDirectory as NSString).appendingPathComponent("flow-records.spool") }
    /// Where the frames relayed and not yet stored are journaled.
    public var journalDirectory: String { (config.dataDirectory as NSString).appendingPathComponent("journal") }

    /// Where `runbook up` writes its state each second.
    public var stateFile: String {
        (config.dataDirectory as NSString).appendingPathComponent("engine-state.json")
    }

    /// Where the guardian writes every check's state.
    public var healthFile: String {
        (config.dataDirectory as NSString).appendingPathComponent("health.json")
    }

    /// The engine's control socket, for restarts asked for by other processes.
    public var controlEndpoint: String {
        let folder = config.dataDirectory.hasPrefix("/") ? config.dataDirectory : (FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(config.dataDirectory)
        return "ipc://" + ((folder as NSString).appendingPathComponent("control.sock") as NSString).standardizingPath
    }

    /// The checks of the checks folder; every problem of every file when there are any.
    public func checks() throws(AssemblyError) -> [Check] {
        do {
            return try CheckLoader(probes: Catalog.probes).loadAll(paths: [config.checksDirectory])
        } catch {
            throw .invalidChecks(error.diagnostics)
        }
    }

    /// What checks and steps see of the engine: `engine` when this process runs it, otherwise
    /// the running engine reached through its state file and control socket.
    /// `ticks`: the engine's own tick store, already open; otherwise the configured one is opened
    /// when a step or probe first needs it.
    public func checkServices(records: Records?, engine live: (any EngineControl)? = nil, ticks: (any TickStore)? = nil) -> EngineServices {
        var services = EngineServices(
            engine: live ?? ControlClient(stateFile: stateFile, endpoint: controlEndpoint), records: records?.flows, market: config.market,
            databasePath: config.databasePath
        )
        services.sqlServers = PostgresSQLServers()
        services.fleet = records?.fleet
        services.flows = config.flows
        services.canaries = config.canaries
        services.ticks = ticks.map { TickStoreAccess(tickStoreDescription, store: $0) } ?? TickStoreAccess(tickStoreDescription) { [self] in
            guard let store = try await openTickStore(mustExist: true) else {
                throw AssemblyError.tickStore("no tick store at \(tickStorePath) yet: ticks are stored while `runbook up` runs")
            }
            return store
        }
        return services
    }

    /// Where the configured tick store is, with no password.
    public var tickStoreDescription: String {
        switch config.store.backend {
        case .sqlite: return "the SQLite tick store \(tickStorePath)"
        case .postgresql:
            let name = config.store.urlEnvironment
            let url = ProcessInfo.processInfo.environment[name].flatMap { try? PostgresURL($0) }
            return url.map { "the PostgreSQL tick store at \($0)" } ?? "the PostgreSQL tick store of \(name)"
        }
    }

    /// Where the configured records are, with no password.
    public var recordsDescription: String {
        switch config.records.backend {
        case .sqlite: return config.databasePath
        case .postgresql:
            let name = config.records.urlEnvironment
            let url = ProcessInfo.processInfo.environment[name].flatMap { try? PostgresURL($0) }
            return url.map { "the PostgreSQL records at \($0)" } ?? "the PostgreSQL records of \(name)"
        }
    }

    /// Incidents and the outbox, in the records, under the configured escalation policy.
    /// `leadership`: whether this engine leads its fleet (it climbs the incidents of no engine).
    public func incidentDesk(records: Records, checks: @escaping @Sendable () -> [Check], leadership: any Leadership = SoleEngine()) -> IncidentDesk {
        IncidentDesk(
            store: records.incidents, policy: config.escalation, channels: config.channels.map(\.name), checks: checks,
            engine: records.fleet == nil ? nil : config.engine.name, leadership: leadership,
            exposure: { [flows = records.flows, demo = Set(config.canaries)] in
                let since = Date().addingTimeInterval(-TradeRecordsLimits.exposureLookBack)
                // A demo account's positions are no exposure.
                return Exposure.of(fills: try await flows.openFills(since: since), reports: try await flows.positionReports()).filter { !demo.contains($0.ea) }
            },
            market: config.market
        )
    }

    /// What steps see of the engine: what checks see, with the checks themselves, the alerts,
    /// the incidents and outbox, and the flows' endpoints.
    /// `gate`: the engine's own gate; from another process, a change is written to the records
    /// and the running engine told to read it.
    public func stepServices(records: Records, checks: CheckBook, desk: IncidentDesk? = nil, gate: GateKeeper? = nil) -> EngineServices {
        var services = checks.evaluator.environment
        services.gate = gate ?? gateKeeper(records: records)
        services.escalation = desk ?? incidentDesk(records: records, checks: { checks.checks })
        services.checks = checks
        services.records = records.flows
        services.alerts = records.checks
        services.flows = config.flows
        services.approvals = records.runs
        return services
    }

    /// The gate changed from a process other than the engine's: in the records, then the running
    /// engine (if any) told to read it, so that it holds before this returns.
    public func gateKeeper(records: Records) -> GateKeeper {
        let control = ControlClient(stateFile: stateFile, endpoint: controlEndpoint)
        return GateKeeper(store: records.flows) { _ in
            do {
                try await control.refreshGate()
            } catch is EngineUnavailable {
                // No engine running: it reads the gate from the records when it starts.
            } catch {
                FileHandle.standardError.write(Data("warning: \(error); it reads the records every second, so the change holds there within about a second\n".utf8))
            }
        }
    }

    public func schedules() -> ScheduleLibrary {
        ScheduleLibrary.load(paths: [config.schedulesDirectory])
    }

    public func library() -> RunbookLibrary {
        RunbookLibrary.load(paths: [config.runbooksDirectory], loader: loader)
    }

    /// Opens the records for review; nil when none have been written yet, so that reading
    /// never creates a SQLite file.
    public func existingRecords(environment: [String: String] = ProcessInfo.processInfo.environment) async throws(AssemblyError) -> Records? {
        if config.records.backend == .sqlite, !FileManager.default.fileExists(atPath: config.databasePath) { return nil }
        return try await records(environment: environment)
    }

    /// Opens the configured records (made or migrated), saying why when they cannot be opened.
    public func records(environment: [String: String] = ProcessInfo.processInfo.environment) async throws(AssemblyError) -> Records {
        switch config.records.backend {
        case .sqlite:
            do {
                return Records(try RecordsDatabase(path: config.databasePath))
            } catch {
                throw .recordsUnavailable("\(error)")
            }
        case .postgresql:
            let name = config.records.urlEnvironment
            let url: PostgresURL
            do {
                url = try Self.postgresURL(of: config.records, key: "records", environment: environment)
            } catch {
                throw .recordsUnavailable(error.description)
            }
            do {
                return Records(try await PostgresRecords.open(url: url, engine: config.engine.name))
            } catch {
                throw .recordsUnavailable("\(error) (the URL is from \(name))")
            }
        }
    }

    public func executor(recorder: any RunRecorder, library: RunbookLibrary, observer: (any RunObserver)?, services: EngineServices = EngineServices()) -> Executor {
        var executor = Executor(
            registry: Catalog.steps, recorder: recorder, logger: Logger(label: "runbook"),
            lookup: { name in try library.resolve(name) }, observer: observer
        )
        executor.services = services
        return executor
    }
}

/// Why the parts of a command could not be assembled.
public enum AssemblyError: Error, Sendable, CustomStringConvertible {
    /// The checks folder has problems: each with its file, line and column.
    case invalidChecks([Diagnostic])
    /// The records database cannot be opened: the reason.
    case recordsUnavailable(String)
    /// The tick store cannot be opened: the reason, with no password in it.
    case tickStore(String)
    /// The tick store cannot be migrated: the reason, with no password in it.
    case tickMigration(String)

    public var description: String {
        switch self {
        case .invalidChecks(let diagnostics):
            (diagnostics.map(\.description) + ["\(diagnostics.count) error(s) in the checks: fix them, `runbook validate` lists them all"]).joined(separator: "\n")
        case .recordsUnavailable(let reason): reason
        case .tickStore(let reason): "cannot open the tick store: \(reason)"
        case .tickMigration(let reason): reason
        }
    }
}
