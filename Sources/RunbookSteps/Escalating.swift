import Foundation
import RunbookCore
import RunbookModel

/// What the `escalate` and `notify` steps reach: the engine's incidents and outbox. Without it
/// (a bare executor) `escalate` still records the level on the run, and `notify` fails saying
/// that no channels are configured.
public protocol Escalating: Sendable {
    /// Raises the incident of `runID`'s trigger (the check that started it, or the runbook
    /// itself) to `level` and queues its notifications; says what it did, for the step's output.
    func escalate(runID: Int64, runbook: String, level: Int, reason: String) async throws -> String
    /// Queues a message for `channels` (the level-2 channels when empty); says where it went.
    func notify(runID: Int64, runbook: String, subject: String, message: String, severity: Severity, channels: [String]) async throws -> String
    /// Queues `question` (its id) of a run waiting at an `approve` step for `channels` (the
    /// level-2 channels when empty), with Approve and Reject buttons where a channel has them.
    func askApproval(runID: Int64, question: Int64, runbook: String, subject: String, message: String, channels: [String]) async throws -> String
}

extension Escalating {
    /// Where a channel has no buttons: the question as a plain message.
    public func askApproval(runID: Int64, question: Int64, runbook: String, subject: String, message: String, channels: [String]) async throws -> String {
        try await notify(runID: runID, runbook: runbook, subject: subject, message: message, severity: .warning, channels: channels)
    }
}

/// Sends a message through the outbox: the summary of a pre-market check, an hourly report.
public struct NotifyStep: StepPrimitive {
    public static let spec = PrimitiveSpec(
        name: "notify",
        summary: "send a message to notification channels through the outbox (delivered even across outages and restarts)",
        inputs: [
            InputSpec("message", .string, required: true), InputSpec("subject", .string), InputSpec("channels", .stringList),
            InputSpec("severity", .string),
        ],
        outputs: ["queued"],
        shorthand: "message"
    )

    public var message: String
    public var subject: String
    public var channels: [String]
    public var severity: Severity

    public init(inputs: ResolvedInputs) throws(StepInputError) {
        message = try inputs.string("message")
        subject = inputs.string("subject", default: "")
        // A list, or text with names separated by commas (from a parameter); empty for the default.
        channels = inputs.strings("channels").flatMap { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }.filter { !$0.isEmpty }
        let named = inputs.string("severity", default: Severity.info.rawValue)
        guard let severity = Severity(rawValue: named) else {
            throw StepInputError("notify severity '\(named)' is not one of \(Severity.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        self.severity = severity
    }

    public func describe() -> String {
        "notify \(channels.isEmpty ? "the level-2 channels" : channels.joined(separator: ", ")): \(subject.isEmpty ? message.prefix(60) : subject.prefix(60))"
    }

    public func run(in context: StepContext) async throws -> StepResult {
        guard let escalating = context.services.escalation else {
            throw StepFailure("notify needs the engine's channels: configure channels: in runbook.yaml")
        }
        let subject = self.subject.isEmpty ? "\(context.runbook): \(message.split(separator: "\n").first.map(String.init) ?? "")" : self.subject
        let queued = try await escalating.notify(
            runID: context.runID, runbook: context.runbook, subject: subject, message: message, severity: severity, channels: channels
        )
        return StepResult(outputs: ["queued": .string(queued)], output: queued)
    }
}
