import Foundation
import Logging
import RunbookModel
import Synchronization

/// Starts runs in the background for the engine's own triggers (schedules, checks, the API) and
/// knows which are still going, by a key the caller chooses (a schedule's or check's name).
public final class RunLauncher: Sendable {
    /// A run started in the background.
    public final class Launched: Sendable {
        public let key: String
        public let runbook: String
        fileprivate let task: Task<RunReport, Never>
        fileprivate let recorded: RecordedID

        fileprivate init(key: String, runbook: String, task: Task<RunReport, Never>, recorded: RecordedID) {
            self.key = key
            self.runbook = runbook
            self.task = task
            self.recorded = recorded
        }

        /// The run's id in the records, once it is there; nil when it could not be recorded.
        public var runID: Int64? {
            get async {
                let id = await recorded.value
                return id == 0 ? nil : id
            }
        }

        /// How the run ended, once it has.
        public var report: RunReport {
            get async { await task.value }
        }

        /// Cancels the run: its current step is stopped and it is recorded as cancelled.
        public func cancel() { task.cancel() }
    }

    /// A runbook that cannot be started, with the reason.
    public struct Refused: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    private struct Table {
        var running: [String: [Int: Launched]] = [:]
        /// Runs that ended before their handle was stored.
        var endedEarly: Set<Int> = []
        var nextID = 0
    }

    private let executor: Executor
    private let table = Mutex(Table())
    /// Set as the engine stops: a run waiting for people then stays waiting in the records.
    private let stopping = StopFlag()

    /// `executor`'s runs waiting for people stay waiting when `stopAll` cancels them.
    public init(executor: Executor) {
        var executor = executor
        let stopping = self.stopping
        executor.parksWaitingRuns = { stopping.isSet }
        self.executor = executor
    }

    /// Starts `runbook` now and returns without waiting for it. Throws when the runbook cannot
    /// be found or loaded; anything after that is in the run's record.
    @discardableResult
    public func start(
        _ runbook: String, params: [String: Value] = [:], trigger: Trigger, origin: RunOrigin? = nil, key: String? = nil
    ) throws -> Launched {
        launch(try load(runbook, trigger: trigger), params: params, trigger: trigger, origin: origin, key: key ?? runbook)
    }

    /// Starts `runbook` with parameters written as text (a schedule's), typed and completed with
    /// defaults as `runbook run --param` does; throws when one does not fit.
    @discardableResult
    public func start(
        _ runbook: String, arguments: [String: String], trigger: Trigger, origin: RunOrigin? = nil, key: String? = nil
    ) throws -> Launched {
        let loaded = try load(runbook, trigger: trigger)
        let params: [String: Value]
        do {
            params = try ParamBinding.bind(arguments, to: loaded)
        } catch {
            throw Refused(description: "cannot start runbook '\(runbook)': \(error)")
        }
        return launch(loaded, params: params, trigger: trigger, origin: origin, key: key ?? runbook)
    }

    private func load(_ runbook: String, trigger: Trigger) throws -> Runbook {
        let loaded: Runbook
        do {
            loaded = try executor.lookup(runbook)
        } catch {
            throw Refused(description: "cannot start runbook '\(runbook)': \(error)")
        }
        if loaded.requiresConfirmation, trigger != .manual {
            throw Refused(description: "runbook '\(runbook)' requires a person's confirmation and never starts from a \(trigger.rawValue): run `runbook run \(runbook) --confirm` or `runbook reset INCIDENT --confirm`")
        }
        return loaded
    }

    /// Takes up run `runID`, left waiting at an `approve` step by a process that stopped (see
    /// `Executor.continueWaiting`), under `key`.
    @discardableResult
    public func continueWaiting(_ runbook: Runbook, runID: Int64, params: [String: Value], trigger: Trigger, at point: ResumePoint, attempt: Int, key: String) -> Launched {
        launch(runbook, params: params, trigger: trigger, origin: nil, key: key) { executor, _ in
            await executor.continueWaiting(runbook, runID: runID, params: params, trigger: trigger, at: point, attempt: attempt)
        }
    }

    private func launch(
        _ loaded: Runbook, params: [String: Value], trigger: Trigger, origin: RunOrigin?, key: String,
        body: (@Sendable (Executor, RecordedID) async -> RunReport)? = nil
    ) -> Launched {
        let runbook = loaded.name
        let executor = self.executor
        let id = table.withLock { table in
            table.nextID += 1
            return table.nextID
        }
        let recorded = RecordedID()
        let task = Task {
            let report = if let body {
                await body(executor, recorded)
            } else {
                await executor.run(loaded, params: params, trigger: trigger, origin: origin, recorded: { recorded.set($0) })
            }
            recorded.set(report.runID)
            self.finished(key: key, id: id)
            return report
        }
        let handle = Launched(key: key, runbook: runbook, task: task, recorded: recorded)
        table.withLock { table in
            if table.endedEarly.remove(id) == nil { table.running[key, default: [:]][id] = handle }
        }
        return handle
    }

    /// Runs started under `key` that have not ended, oldest first.
    public func running(_ key: String) -> [Launched] {
        table.withLock { table in (table.running[key] ?? [:]).sorted { $0.key < $1.key }.map(\.value) }
    }

    /// The keys with a run that has not ended.
    public var runningKeys: [String] {
        table.withLock { $0.running.keys.sorted() }
    }

    /// As the engine stops: cancels every run still going and waits for each to record its end;
    /// a run waiting for people stays waiting in the records, for the engine to take up when it
    /// starts again.
    public func stopAll() async {
        stopping.set()
        await cancelAll()
    }

    /// Cancels every run still going and waits for each to record its end.
    public func cancelAll() async {
        let all = table.withLock { $0.running.values.flatMap(\.values) }
        for run in all { run.cancel() }
        for run in all { _ = await run.report }
    }

    private func finished(key: String, id: Int) {
        table.withLock { table in
            if table.running[key]?.removeValue(forKey: id) == nil {
                table.endedEarly.insert(id)
            } else if table.running[key]?.isEmpty == true {
                table.running[key] = nil
            }
        }
    }
}

/// A run's id, set once when the executor has recorded the run; readers wait for it.
final class RecordedID: Sendable {
    private let state = Mutex<(id: Int64?, waiting: [CheckedContinuation<Int64, Never>])>((nil, []))

    func set(_ id: Int64) {
        let waiting = state.withLock { state -> [CheckedContinuation<Int64, Never>] in
            guard state.id == nil else { return [] }
            state.id = id
            defer { state.waiting = [] }
            return state.waiting
        }
        for continuation in waiting { continuation.resume(returning: id) }
    }

    var value: Int64 {
        get async {
            await withCheckedContinuation { continuation in
                let known = state.withLock { state -> Int64? in
                    if let id = state.id { return id }
                    state.waiting.append(continuation)
                    return nil
                }
                if let known { continuation.resume(returning: known) }
            }
        }
    }
}

/// Set once, read by every run: whether the engine stops.
private final class StopFlag: Sendable {
    private let flag = Atomic(false)

    func set() { flag.store(true, ordering: .releasing) }
    var isSet: Bool { flag.load(ordering: .acquiring) }
}
