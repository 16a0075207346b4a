import Foundation
import RunbookCore
import RunbookModel

/// What a run knows as it goes: parameters, step outcomes and outputs. Answers references.
struct RunState: Sendable {
    var runID: Int64
    var runbook: String
    var trigger: Trigger
    var params: [String: Value]
    var outputs: [String: [String: Value]] = [:]
    var statuses: [String: StepStatus] = [:]

    func value(of reference: Reference) -> Value? {
        let path = reference.path
        switch path[0] {
        case "params" where path.count == 2:
            return params[path[1]]
        case "steps" where path.count == 4 && path[2] == "outputs":
            return outputs[path[1]]?[path[3]]
        case "steps" where path.count == 3 && path[2] == "status":
            return statuses[path[1]].map { .string($0.rawValue) }
        case "env" where path.count == 2:
            return ProcessInfo.processInfo.environment[path[1]].map { .string($0) }
        case "run" where path.count == 2:
            switch path[1] {
            case "id": return .number(Double(runID))
            case "runbook": return .string(runbook)
            case "trigger": return .string(trigger.rawValue)
            default: return nil
            }
        default:
            return nil
        }
    }

    var evaluator: ExpressionEvaluator {
        let snapshot = self
        return ExpressionEvaluator { snapshot.value(of: $0) }
    }

    /// Variables every command of the run receives.
    var environment: [String: String] {
        var environment = ["RUNBOOK_RUN_ID": String(runID), "RUNBOOK_RUNBOOK": runbook, "RUNBOOK_TRIGGER": trigger.rawValue]
        for (name, value) in params { environment["RUNBOOK_PARAM_\(name.uppercased())"] = value.text }
        return environment
    }
}
