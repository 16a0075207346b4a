import RunbookModel

/// Raises the run's escalation level and ends the run as failed with the reason (unless the step
/// says `on_failure: continue`): what a runbook does when its recovery did not work.
public struct EscalateStep: StepPrimitive {
    public static let spec = PrimitiveSpec(
        name: "escalate",
        summary: "record escalation level 1-4 on the run, with the reason, and stop it",
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
        let message = "escalated to level \(level)" + (reason.isEmpty ? "" : ": \(reason)")
        context.logger.error("\(message)", metadata: ["runbook": "\(context.runbook)", "run": "\(context.runID)"])
        throw StepFailure(message, outputs: ["escalation_level": .number(Double(level))])
    }
}
