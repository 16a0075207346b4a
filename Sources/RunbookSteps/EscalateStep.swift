import RunbookModel

/// Raises the run's escalation level and ends the run as failed with the reason (unless the step
/// says `on_failure: continue`): what a runbook does when its recovery did not work. In the
/// engine it also raises the incident the run belongs to, which notifies that level's channels.
public struct EscalateStep: StepPrimitive {
    public static let spec = PrimitiveSpec(
        name: "escalate",
        summary: "raise the run's incident to level 1-4 (notifying that level's channels), record it on the run, and stop the run",
        inputs: [InputSpec("level", .int, required: true), InputSpec("reason", .string)],
        outputs: ["escalation_level"],
        shorthand: "level"
    )

    public var level: Int
    public var reason: String

    public init(inputs: ResolvedInputs) throws(StepInputError) {
        let level = try inputs.int("level", default: 1)
        guard (1...4).contains(level) else { throw StepInputError("escalate level \(level) is not one of 1, 2, 3, 4") }
        self.level = level
        reason = inputs.string("reason", default: "")
    }

    public func describe() -> String {
        "escalate to level \(level)" + (reason.isEmpty ? "" : ": \(reason)")
    }

    public func run(in context: StepContext) async throws -> StepResult {
        var message = "escalated to level \(level)" + (reason.isEmpty ? "" : ": \(reason)")
        context.logger.error("\(message)", metadata: ["runbook": "\(context.runbook)", "run": "\(context.runID)"])
        if let escalating = context.services.escalation {
            do {
                message += "; " + (try await escalating.escalate(runID: context.runID, runbook: context.runbook, level: level, reason: reason))
            } catch {
                message += "; the incident could not be raised: \(error)"
            }
        }
        throw StepFailure(message, outputs: ["escalation_level": .number(Double(level))])
    }
}
