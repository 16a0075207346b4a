import Foundation
import RunbookExecutor
import RunbookModel

/// Starts the run of a fire; the engine's `RunLauncher` in `runbook up`.
public protocol ScheduledRunStarter: Sendable {
    /// Starts the schedule's runbook for the fire due at `dueAt`; throws when it cannot start
    /// (the runbook is missing or invalid, a parameter does not fit).
    func start(_ schedule: Schedule, dueAt: Date) throws -> any ScheduledRun
}

/// A run a fire started.
public protocol ScheduledRun: Sendable {
    /// Asks the run to stop; it is recorded as cancelled.
    func cancel()
    /// Returns once the run has ended and recorded its end.
    func finished() async
}

extension RunLauncher: ScheduledRunStarter {
    public func start(_ schedule: Schedule, dueAt: Date) throws -> any ScheduledRun {
        try start(
            schedule.runbook, arguments: schedule.params, trigger: .schedule, origin: RunOrigin(source: schedule.name, dueAt: dueAt),
            key: "schedule:\(schedule.name)"
        )
    }
}

extension RunLauncher.Launched: ScheduledRun {
    public func finished() async {
        _ = await report
    }
}

/// Told of fires that will not run and of fires whose run started: a missed fire is an
/// incident until the schedule runs again.
public protocol MissedFireAlerts: Sendable {
    /// Fires of `schedule` (oldest first) that will not run, and why.
    func fireMissed(schedule: String, runbook: String, dueAt: [Date], reason: String) async
    /// A fire of `schedule` started its run.
    func fireStarted(schedule: String, dueAt: Date) async
    /// The schedules there are as the scheduler starts: a schedule deleted or renamed since it
    /// missed a fire has nothing more to miss.
    func schedulesAre(_ names: Set<String>) async
}

extension MissedFireAlerts {
    public func schedulesAre(_ names: Set<String>) async {}
}
