import Foundation
import Logging
import RunbookApp
import RunbookChecks
import RunbookCurl
import RunbookEngine
import RunbookEscalation
import RunbookExecutor
import RunbookModel
import RunbookSQLite
import RunbookSteps
import RunbookStore

/// The parts a command needs, assembled from the configuration.
public struct Engine {
    let config: EngineConfig
    let loader = RunbookLoader(catalog: Catalog.steps)

    /// The tick store, beside the records.
    var tickStorePath: String { (config.dataDirectory as NSString).appendingPathComponent("ticks.db") }

    /// Bars aligned in the configured server time zone.
    var alignment: BarAlignment { BarAlignment(timeZone: TimeZone(identifier: config.serverTimeZone) ?? TimeZone(identifier: "UTC")!) }

    /// Where ticks wait while the tick store is down.
    var spoolPath: String { (config.dataDirectory as NSString).appendingPathComponent("ticks.spool") }
    /// Where the frames relayed and not yet stored are journaled.
    var journalDirectory: String { (config.dataDirectory as NSString).appendingPathComponent("journal") }

    /// Where `runbook up` writes its state each second.
    var stateFile: String {
        (config.dataDirectory as NSString).appendingPathComponent("engine-state.json")
    }

    /// Where the guardian writes every check's state.
    var healthFile: String {
        (config.dataDirectory as NSString).appendingPathComponent("health.json")
    }

    /// The engine's control socket, for restarts asked for by other processes.
    var controlEndpoint: String {
        let folder = config.dataDirectory.hasPrefix("/") ? config.dataDirectory : (FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(config.dataDirectory)
        return "ipc://" + ((folder as NSString).appendingPathComponent("control.sock") as NSString).standardizingPath
    }

    /// The checks of the checks folder; their problems printed and exit 2 when there are any.
    func checks() throws -> [Check] {
        do {
            return try CheckLoader(probes: Catalog.probes).loadAll(paths: [config.checksDirectory])
        } catch {
            error.diagnostics.forEach { Console.error($0.description) }
            Console.error("\(error.diagnostics.count) error(s) in the checks: fix them, `runbook validate` lists them all")
            throw ExitStatus.usage.code
        }
    }

    /// What checks and steps see of the engine: `engine` when this process runs it, otherwise
    /// the running engine reached through its state file and control socket.
    func probeEnvironment(records: RunRecords?, engine live: (any EngineControl)? = nil) -> ProbeEnvironment {
        ProbeEnvironment(
            engine: live ?? ControlClient(stateFile: stateFile, endpoint: controlEndpoint), records: records, market: config.market,
            databasePath: config.databasePath
        )
    }

    /// Incidents and the outbox, in the records, under the configured escalation policy.
    func incidentDesk(records: RunRecords, checks: @escaping @Sendable () -> [Check]) -> IncidentDesk {
        IncidentDesk(store: records, policy: config.escalation, channels: config.channels.map(\.name), checks: checks)
    }

    /// The services steps use to act on the engine.
    func stepServices(records: RunRecords, checks: CheckBook, desk: IncidentDesk? = nil) -> StepServices {
        let desk = desk ?? incidentDesk(records: records, checks: { checks.checks })
        var services = StepServices()
            .adding(desk as any Escalating, as: (any Escalating).self)
            .adding(checks, as: CheckBook.self)
            .adding(records as any HealthRecords, as: (any HealthRecords).self)
            .adding(records as any AlertBook, as: (any AlertBook).self)
            .adding(config.flows, as: FlowEndpoints.self)
        if let engine = checks.evaluator.environment.engine { services = services.adding(engine, as: (any EngineControl).self) }
        return services
    }

    func library() -> RunbookLibrary {
        RunbookLibrary.load(paths: [config.runbooksDirectory], loader: loader)
    }

    /// Opens the records for review; nil when none have been written yet, so that reading
    /// never creates a database.
    func existingRecords() throws -> RunRecords? {
        FileManager.default.fileExists(atPath: config.databasePath) ? try records() : nil
    }

    /// Opens the records; prints the reason and exits 1 when they cannot be opened.
    func records() throws -> RunRecords {
        do {
            return try RunRecords(path: config.databasePath)
        } catch {
            Console.error("\(error)")
            throw ExitStatus.failed.code
        }
    }

    func executor(recorder: any RunRecorder, library: RunbookLibrary, observer: (any RunObserver)?, services: StepServices = StepServices()) -> Executor {
        var executor = Executor(
            registry: Catalog.steps, recorder: recorder, logger: Logger(label: "runbook"),
            lookup: { name in try library.resolve(name) }, observer: observer
        )
        executor.services = services
        return executor
    }
}

/// The recorder of a dry run, which plans and never records: any call is a mistake.
struct PlanOnly: RunRecorder {
    struct Refused: Error, CustomStringConvertible {
        var description: String { "a dry run records nothing" }
    }

    func startRun(_ start: RunStart) throws -> Int64 { throw Refused() }
    func startAttempt(_ attempt: AttemptStart, completing previous: FinishedAttempt?) throws -> Int64 { throw Refused() }
    func finishAttempt(_ finished: FinishedAttempt) throws { throw Refused() }
    func finishRun(_ id: Int64, _ outcome: RunOutcome, completing previous: FinishedAttempt?) throws { throw Refused() }
}

/// Renders durations for people: `850ms`, `12.3s`, `4m05s`.
enum Elapsed {
    static func text(_ duration: Duration) -> String {
        text(milliseconds: Double(duration.milliseconds))
    }

    static func text(milliseconds: Double) -> String {
        if milliseconds < 1000 { return "\(Int(milliseconds))ms" }
        let seconds = milliseconds / 1000
        if seconds < 60 { return String(format: "%.1fs", seconds) }
        return String(format: "%dm%02ds", Int(seconds) / 60, Int(seconds) % 60)
    }
}
