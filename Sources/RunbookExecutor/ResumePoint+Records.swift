import Foundation
import RunbookCore
import RunbookModel

extension ResumePoint {
    /// The first step of `runbook` that did not succeed in the earlier run, with what the steps
    /// before it did and gave. A step whose start is recorded without an end was acting when its
    /// process stopped: it is refused unless `confirmed`.
    public static func of(_ old: RunRecord, attempts: [AttemptRecord], runbook: Runbook, confirmed: Bool) throws(ResumeRefusal) -> ResumePoint {
        var last: [String: AttemptRecord] = [:]
        for attempt in attempts where (last[attempt.stepId].map { ($0.attempt, $0.id) < (attempt.attempt, attempt.id) } ?? true) {
            last[attempt.stepId] = attempt
        }
        var done: [String: ResumePoint.Done] = [:]
        for (index, step) in runbook.steps.enumerated() {
            guard let attempt = last[step.id] else {
                return ResumePoint(fromRun: old.id, startIndex: index, done: done)
            }
            let status = StepStatus(rawValue: attempt.status)
            // A failure the runbook goes on after (on_failure: continue) is where the run went on from.
            if status == .succeeded || status == .skipped || (status == .failed && step.onFailure == .continue) {
                let outputs = attempt.outputs.flatMap(Value.outputs(recorded:)) ?? [:]
                if outputs.values.contains(where: { $0.text.contains(Secrets.mask) }) {
                    throw ResumeRefusal( "step '\(step.id)' of run \(old.id) gave outputs holding a secret, which the records keep masked: they cannot be given to the steps after it. Run the runbook again")
                }
                done[step.id] = ResumePoint.Done(status: status ?? .succeeded, outputs: outputs)
                continue
            }
            if case .run(let recovery) = step.onFailure, status == .failed {
                throw ResumeRefusal( "step '\(step.id)' of run \(old.id) failed and its recovery runbook '\(recovery)' ran: going on after it would undo what that did. Run the runbook again")
            }
            if ["interrupted", "running", "cancelled"].contains(attempt.status), !confirmed {
                throw ResumeRefusal( """
                    step '\(step.id)' (\(step.primitive)) of run \(old.id) \(attempt.status == "cancelled" ? "was cancelled while it acted" : "was acting when its process stopped"): \
                    it started at \(ISO8601DateFormatter().string(from: attempt.startedAt)) and never ended, so it may already have acted. Check what it did, then \
                    resume with --confirm to run it again
                    """)
            }
            return ResumePoint(fromRun: old.id, startIndex: index, done: done)
        }
        throw ResumeRefusal( "every step of run \(old.id) succeeded or was skipped: nothing to resume")
    }
}

/// Why a run cannot be resumed (or taken up again), with what to do.
public struct ResumeRefusal: Error, Sendable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}
