import Foundation

/// Where the scheduler keeps, per schedule, the last fire time it has dealt with (run, queued or
/// passed over by policy), so that a restart neither repeats a fire nor forgets one it owes.
/// A schedule seen for the first time is marked with the instant it was first seen: fires before
/// it are not owed.
public protocol SchedulerStateStore: Sendable {
    /// Each schedule's mark.
    func handledThrough() async throws -> [String: Date]
    /// Moves a schedule's mark forward; written before the run it stands for starts. False when
    /// the stored mark is already at or past `instant`: another engine of a fleet (or an earlier
    /// leader whose write came late) dealt with that fire, and its run must not start here.
    @discardableResult
    func setHandled(_ schedule: String, through instant: Date) async throws -> Bool
    /// Whether a run of `schedule` for its fire at `dueAt` was recorded: a mark whose run was
    /// never recorded belongs to an engine that stopped between the two.
    func runRecorded(_ schedule: String, dueAt: Date) async throws -> Bool
}
