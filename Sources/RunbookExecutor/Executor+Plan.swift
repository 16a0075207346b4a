import RunbookModel
import RunbookSteps

/// One step of a dry-run plan: what would happen, with inputs resolved as far as they can be.
public struct PlannedStep: Sendable {
    public var id: String
    public var primitive: String
    /// The `when` condition and whether it holds now (nil when it depends on earlier steps).
    public var condition: String?
    public var conditionHolds: Bool?
    public var inputs: [String: String]
    public var action: String
    public var timeout: Duration?
    public var retries: RetryPolicy
    public var onFailure: FailurePolicy
}

extension Executor {
    /// What `run` would do, performing no side effect and recording nothing.
    public func plan(_ runbook: Runbook, params: [String: Value]) -> [PlannedStep] {
        let secrets = Secrets.forRun()
        secrets.addSecretParams(of: runbook, params)
        let state = RunState(runID: 0, runbook: runbook.name, trigger: .manual, params: params)
        let evaluator = state.evaluator
        return runbook.steps.map { step in
            secrets.addDerived(from: step.inputs, with: evaluator)
            var inputs: [String: String] = [:]
            var unresolved: [String] = []
            for entry in step.inputs.entries {
                if let resolved = try? InputResolver.resolve(Inputs([entry]), with: evaluator) {
                    inputs[entry.key] = secrets.mask(resolved.values[entry.key]?.text ?? resolved.conditions[entry.key]?.text ?? resolved.nested[entry.key]?.name ?? "")
                } else {
                    let names = entry.value.references.map { "${{ \($0.0) }}" }
                    inputs[entry.key] = "known when the run gets here: " + names.joined(separator: ", ")
                    unresolved.append(entry.key)
                }
            }
            var action = "inputs depend on earlier steps: " + unresolved.joined(separator: ", ")
            if unresolved.isEmpty, let resolved = try? InputResolver.resolve(step.inputs, with: evaluator) {
                do {
                    action = secrets.mask(try registry.make(step.primitive, inputs: resolved).describe())
                } catch {
                    action = "would fail: \(secrets.mask("\(error)"))"
                }
            }
            return PlannedStep(
                id: step.id, primitive: step.primitive, condition: step.when?.text,
                conditionHolds: step.when.flatMap { try? evaluator.evaluate($0.expression).isTruthy },
                inputs: inputs, action: action, timeout: step.timeout, retries: step.retries, onFailure: step.onFailure
            )
        }
    }
}
