import Foundation

/// Where the scheduler keeps, per schedule, the last fire time it has dealt with (run, queued or
/// passed over by policy), so that a restart neither repeats a fire nor forgets one it owes.
/// A schedule seen for the first time is marked with the instant it was first seen: fires before
/// it are not owed.
public protocol SchedulerStateStore: Sendable {
    /// Each schedule's mark.
    func handledThrough() async throws -> [String: Date]
    /// Moves a schedule's mark; written before the run it stands for starts.
    func setHandled(_ schedule: String, through instant: Date) async throws
}
