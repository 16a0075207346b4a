import Foundation
import Logging
import RunbookCore
import RunbookModel

/// Pauses the run until people approve or reject it: the run is `waiting` in the records, the
/// question goes to the channels (with Approve and Reject buttons on Telegram), and any of the
/// ways in (`runbook approve`, the API, the dashboard, Telegram) answers it. The wait is in the
/// records, so an engine that restarts waits on until the same deadline, the step's `timeout`
/// counted from the question. One rejection fails the step (`on_failure` decides what follows);
/// so does no decision by the deadline.
public struct ApproveStep: StepPrimitive {
    public static let spec: PrimitiveSpec = {
        var spec = PrimitiveSpec(
            name: "approve",
            summary: "wait until people approve the run (runbook approve, the API, the dashboard, Telegram); a rejection or the timeout fails the step",
            inputs: [
                InputSpec("message", .string, required: true), InputSpec("approvers", .stringList), InputSpec("min_approvals", .int),
                InputSpec("channels", .stringList),
            ],
            outputs: ["approved_by", "decision"],
            shorthand: "message"
        )
        spec.waitsForPeople = true
        return spec
    }()

    public var message: String
    /// Names (`maria`) and Telegram users (`telegram:111`) who may answer; empty: anyone who may act.
    public var approvers: [String]
    public var minApprovals: Int
    /// Where the question goes; the level-2 channels when empty.
    public var channels: [String]

    public init(inputs: ResolvedInputs) throws(StepInputError) {
        message = try inputs.string("message")
        approvers = inputs.strings("approvers").flatMap { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }.filter { !$0.isEmpty }
        minApprovals = try inputs.int("min_approvals", default: 1)
        channels = inputs.strings("channels").flatMap { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }.filter { !$0.isEmpty }
        guard (1...20).contains(minApprovals) else {
            throw StepInputError("approve min_approvals \(minApprovals) is not between 1 and 20")
        }
        // Names are compared without regard to case: `Maria` and `maria` are one person.
        let people = Set(approvers.map { $0.lowercased() }).count
        if !approvers.isEmpty, people < minApprovals {
            throw StepInputError("approve needs \(minApprovals) approvals but names only \(people) approver(s): name more, or lower min_approvals")
        }
        for approver in approvers where approver.hasPrefix("telegram:") && Int64(approver.dropFirst("telegram:".count)).map({ $0 <= 0 }) ?? true {
            throw StepInputError("approve approver '\(approver)' is not a Telegram user: write telegram:ID with the person's numeric user id")
        }
    }

    public func describe() -> String {
        let who = approvers.isEmpty ? "anyone who may act" : approvers.joined(separator: ", ")
        return "wait for \(minApprovals) approval(s) from \(who): \(message.prefix(80))"
    }

    public func run(in context: StepContext) async throws -> StepResult {
        guard let store = context.services.approvals else {
            throw StepFailure("approve needs the records to wait in: run the runbook with `runbook run` or from `runbook up`")
        }
        let now = context.services.now
        let asked = Date(timeIntervalSince1970: (now().timeIntervalSince1970 * 1000).rounded() / 1000)
        var request = try await store.requestApproval(ApprovalRequest(
            runID: context.runID, stepIndex: context.stepIndex, stepID: context.stepID, runbook: context.runbook, message: message,
            approvers: approvers, minApprovals: minApprovals, requestedAt: asked, deadline: context.timeout.map { asked.addingTimeInterval($0.seconds) }
        ))
        let metadata: Logger.Metadata = ["runbook": "\(context.runbook)", "run": "\(context.runID)", "step": "\(context.stepID)"]
        // A new question, or one a restart takes up again (times read back to the millisecond):
        // asked again then, since a stop between the question and its message may have lost it.
        let new = abs(request.requestedAt.timeIntervalSince(asked)) < 0.0005
        let who = approvers.isEmpty ? "" : " (approvers: \(approvers.joined(separator: ", ")))"
        let until = request.deadline.map { ", until \(Self.stamp($0))" } ?? ""
        if new {
            context.logger.notice("run \(context.runID) waits for approval at step '\(context.stepID)'\(until)\(who): \(message)", metadata: metadata)
        } else {
            context.logger.notice("run \(context.runID) waits on for approval at step '\(context.stepID)' (asked \(Self.stamp(request.requestedAt)), \(request.tally))", metadata: metadata)
        }
        var notes: [String] = []
        if let escalating = context.services.escalation {
            let again = new ? "" : " (still: the engine restarted; \(request.tally) so far)"
            let body = """
                Run \(context.runID) of \(context.runbook) waits at step '\(context.stepID)' for \(minApprovals) approval(s)\(who)\(until)\(again).
                \(message)
                Answer: runbook approve \(context.runID) [--reject] --by NAME
                """
            do {
                notes.append(try await escalating.askApproval(
                    runID: context.runID, question: request.id, runbook: context.runbook,
                    subject: "\(context.runbook): approval needed for run \(context.runID)", message: body, channels: channels
                ))
            } catch {
                notes.append("the question could not be queued: \(error)")
                context.logger.warning("the approval question of run \(context.runID) could not be queued: \(error)", metadata: metadata)
            }
        }
        while true {
            if request.status != .waiting {
                // Closed elsewhere (another process took the run up and decided): as it was decided.
                return try outcome(request.status, request, notes, context)
            }
            // Closed only if no answer came since this read: one that did is read first.
            let closing = request.decision ?? (request.deadline.map { $0.timeIntervalSince(now()) <= 0 } == true ? .expired : nil)
            if let closing, try await settle(store, request, closing, now: now) { return try outcome(closing, request, notes, context) }
            // Waiting, or a close refused because an answer came: the next read after a pause.
            var pause = context.services.approvalPoll
            if closing == nil, let deadline = request.deadline {
                pause = min(pause, .milliseconds(Int64((deadline.timeIntervalSince(now()) * 1000).rounded(.up))))
            }
            do {
                try await context.clock.sleep(for: closing == nil ? pause : .milliseconds(50))
            } catch {
                // Stopped: as the engine stops, the wait stays in the records (the executor
                // decides); otherwise the run is cancelled.
                throw StepParked(runID: context.runID, stepID: context.stepID)
            }
            do {
                guard let latest = try await store.approval(id: request.id) else {
                    throw StepFailure("the question of step '\(context.stepID)' is gone from the records", outputs: ["decision": .string("expired")])
                }
                request = latest
            } catch let failure as StepFailure {
                throw failure
            } catch {
                context.logger.warning("cannot read the answers to run \(context.runID) (it waits on): \(error)", metadata: metadata)
            }
        }
    }

    /// The step's end for a decided question.
    private func outcome(_ status: ApprovalRequest.Status, _ request: ApprovalRequest, _ notes: [String], _ context: StepContext) throws -> StepResult {
        switch status {
        case .approved:
            let names = request.approvedBy.map(\.by)
            return StepResult(
                outputs: ["approved_by": .string(names.joined(separator: ", ")), "decision": .string("approved")],
                output: (["approved by \(names.joined(separator: ", "))"] + notes).joined(separator: "\n")
            )
        case .rejected:
            let why = request.rejection.map { "rejected by \($0.by)" + ($0.reason.isEmpty ? "" : ": \($0.reason)") } ?? "rejected"
            throw StepFailure(why, output: notes.joined(separator: "\n"), outputs: ["decision": .string("rejected")])
        default:
            throw StepFailure(
                "no decision within \(context.timeout.map(DurationText.format) ?? "its timeout") (by \(request.deadline.map(Self.stamp) ?? "its deadline")): \(request.tally)",
                output: notes.joined(separator: "\n"),
                outputs: ["decision": .string("expired")]
            )
        }
    }

    /// The wait's end, in the records, if no answer came since `request` was read: the run is
    /// `running` again. Written even as the run is being cancelled.
    private func settle(_ store: any ApprovalStore, _ request: ApprovalRequest, _ status: ApprovalRequest.Status, now: @Sendable () -> Date) async throws -> Bool {
        let (runID, id, answers, at) = (request.runID, request.id, request.votes.count, now())
        do {
            return try await Task { try await store.settleApproval(runID: runID, id: id, status: status, answers: answers, at: at) }.value
        } catch {
            throw StepFailure("the decision (\(status.rawValue)) could not be recorded: \(error)")
        }
    }

    static func stamp(_ date: Date) -> String {
        ISO8601DateFormatter().string(from: date)
    }
}

/// A step that waits for people was stopped by the engine stopping: its wait stays in the
/// records (the run `waiting`), for the engine to take up again when it starts.
public struct StepParked: Error, Sendable, CustomStringConvertible {
    public var runID: Int64
    public var stepID: String

    public init(runID: Int64, stepID: String) {
        self.runID = runID
        self.stepID = stepID
    }

    public var description: String { "run \(runID) waits at step '\(stepID)'; the engine takes the wait up again when it starts" }
}
