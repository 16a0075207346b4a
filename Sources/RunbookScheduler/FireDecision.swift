import Foundation
import RunbookModel

/// What a schedule does with the fires that came due since its mark: which run, which are passed
/// over. A fire handled on time always runs; the others were missed (the engine was down, or
/// the clock jumped) and run as `catch_up` says, if they are within `catch_up_window`.
struct FireDecision: Equatable {
    /// Oldest first.
    var run: [Date] = []
    var passedOver: [Date] = []

    /// `due` is oldest first; `lastOnTime` says whether its last fire is being handled on time.
    init(due: [Date], lastOnTime: Bool, now: Date, catchUp: Schedule.CatchUp, window: Duration) {
        let onTime = lastOnTime ? due.last : nil
        let missed = lastOnTime ? Array(due.dropLast()) : due
        let eligible = missed.filter { now.timeIntervalSince($0) <= window.seconds }
        switch catchUp {
        case .none: break
        case .latest: if onTime == nil { run = Array(eligible.suffix(1)) }
        case .all: run = eligible
        }
        if let onTime { run.append(onTime) }
        passedOver = missed.filter { !run.contains($0) }
    }
}
