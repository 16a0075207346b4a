import RunbookModel

/// Runs another runbook as a child run; fails when the child does.
public struct RunStep: StepPrimitive {
    public static let spec = PrimitiveSpec(
        name: "run",
        summary: "run another runbook",
        inputs: [
            InputSpec("runbook", .string, required: true, allowsTemplates: false, namesRunbook: true, instead: "name the runbook itself, so validation can check it"),
            InputSpec("params", .stringMap),
        ],
        outputs: ["run_id", "status", "escalation_level"],
        shorthand: "runbook"
    )

    public var runbook: String
    public var params: [String: String]

    public init(inputs: ResolvedInputs) throws(StepInputError) {
        runbook = try inputs.string("runbook")
        params = inputs.stringMap("params")
    }

    public func describe() -> String {
        "run runbook '\(runbook)'" + (params.isEmpty ? "" : " with " + params.keys.sorted().map { "\($0)=\(params[$0]!)" }.joined(separator: " "))
    }

    public func run(in context: StepContext) async throws -> StepResult {
        let child = try await context.runChild(runbook, params)
        let outputs: [String: Value] = [
            "run_id": .number(Double(child.runID)), "status": .string(child.status), "escalation_level": .number(Double(child.escalationLevel)),
        ]
        guard child.succeeded else {
            throw StepFailure("runbook '\(runbook)' ended \(child.status) (run \(child.runID))", outputs: outputs)
        }
        return StepResult(outputs: outputs, output: "run \(child.runID) of '\(runbook)' \(child.status)")
    }
}
