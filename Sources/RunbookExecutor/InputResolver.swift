import RunbookModel
import RunbookSteps

/// Resolves the templates of a step's inputs against the run so far.
enum InputResolver {
    static func resolve(_ inputs: Inputs, with evaluator: ExpressionEvaluator) throws(StepInputError) -> ResolvedInputs {
        var resolved = ResolvedInputs()
        for entry in inputs.entries {
            switch entry.value {
            case .condition(let condition, _):
                resolved.conditions[entry.key] = condition
            case .primitive(let nested):
                resolved.nested[entry.key] = nested
            default:
                resolved.values[entry.key] = try value(of: entry.value, key: entry.key, with: evaluator)
            }
        }
        return resolved
    }

    private static func value(of input: InputValue, key: String, with evaluator: ExpressionEvaluator) throws(StepInputError) -> Value {
        switch input {
        case .template(let template, let location):
            do {
                return try template.resolve(with: evaluator)
            } catch {
                throw StepInputError("input '\(key)' at \(location): \(error.description)")
            }
        case .literal(let value, _):
            return value
        case .list(let items, _):
            var values: [Value] = []
            for item in items { values.append(try value(of: item, key: key, with: evaluator)) }
            return .list(values)
        case .map(let entries, _):
            var values: [String: Value] = [:]
            for entry in entries { values[entry.key] = try value(of: entry.value, key: "\(key).\(entry.key)", with: evaluator) }
            return .map(values)
        case .condition(let condition, _):
            return .string(condition.text)
        case .primitive(let nested):
            return .string(nested.name)
        }
    }
}
