import Foundation
import RunbookExecutor
import RunbookModel

/// Shows a run's steps as they go: on a terminal, one live line per step with its elapsed time;
/// otherwise plain lines that logs and pipes can keep.
final class ProgressPrinter: RunObserver, @unchecked Sendable {
    private let live: Bool
    private let lock = NSLock()
    private var ticker: Task<Void, Never>?

    init(live: Bool) {
        self.live = live
    }

    func runStarted(id: Int64, runbook: Runbook, trigger: Trigger) {
        Console.out("run \(id): \(runbook.name) (\(runbook.steps.count) step\(runbook.steps.count == 1 ? "" : "s"), trigger \(trigger.rawValue))")
    }

    func attemptStarted(step: Step, attempt: Int) {
        let label = attempt > 1 ? "\(step.id) (attempt \(attempt)/\(step.retries.count + 1))" : step.id
        guard live else {
            Console.out("  \(label): started")
            return
        }
        let start = ContinuousClock.now
        lock.withLock {
            ticker?.cancel()
            ticker = Task {
                while !Task.isCancelled {
                    try? FileHandle.standardOutput.write(contentsOf: Data("\r\u{1B}[2K  … \(label)  \(Elapsed.text(start.duration(to: .now)))".utf8))
                    try? await Task.sleep(for: .milliseconds(100))
                }
            }
        }
    }

    func stepFinished(step: Step, report: StepReport) {
        let mark: String
        switch report.status {
        case .succeeded: mark = live ? "✓" : "succeeded"
        case .skipped: mark = live ? "-" : "skipped"
        case .failed: mark = live ? "✗" : "failed"
        default: mark = live ? "!" : report.status.rawValue
        }
        var line = live ? "\r\u{1B}[2K  \(mark) \(step.id)  \(Elapsed.text(report.duration))" : "  \(step.id): \(mark) in \(Elapsed.text(report.duration))"
        if report.attempts > 1 { line += " after \(report.attempts) attempts" }
        if let error = report.error { line += ": \(error)" } else if report.status == .skipped { line += " (\(report.output))" }
        lock.withLock {
            ticker?.cancel()
            ticker = nil
        }
        Console.out(line)
    }

    func runFinished(report: RunReport) {
        var line = "run \(report.runID): \(report.runbook) \(report.status.rawValue)"
        if report.escalationLevel > 0 { line += " (escalation level \(report.escalationLevel))" }
        if let error = report.error, report.status != .succeeded { line += ": \(error)" }
        Console.out(line)
    }
}
