import Foundation
import RunbookApp
import RunbookExecutor
import RunbookModel

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
