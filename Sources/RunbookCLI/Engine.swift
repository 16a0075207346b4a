import Foundation
import Logging
import RunbookCurl
import RunbookExecutor
import RunbookModel
import RunbookSQLite
import RunbookSteps
import RunbookStore

/// The parts a command needs, assembled from the configuration.
public struct Engine {
    /// Every primitive this build offers.
    public static let registry = StepRegistry.core.merging(.sqlite).merging(.curl)

    let config: EngineConfig
    let loader = RunbookLoader(catalog: Engine.registry)

    /// The tick store, beside the records.
    var tickStorePath: String { (config.dataDirectory as NSString).appendingPathComponent("ticks.db") }

    /// Bars aligned in the configured server time zone.
    var alignment: BarAlignment { BarAlignment(timeZone: TimeZone(identifier: config.serverTimeZone) ?? TimeZone(identifier: "UTC")!) }

    /// Where ticks wait while the tick store is down.
    var spoolPath: String { (config.dataDirectory as NSString).appendingPathComponent("ticks.spool") }

    /// Where `runbook up` writes its state each second.
    var stateFile: String {
        (config.dataDirectory as NSString).appendingPathComponent("engine-state.json")
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

    func executor(recorder: any RunRecorder, library: RunbookLibrary, observer: (any RunObserver)?) -> Executor {
        Executor(
            registry: Engine.registry, recorder: recorder, logger: Logger(label: "runbook"),
            lookup: { name in try library.resolve(name) }, observer: observer
        )
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
