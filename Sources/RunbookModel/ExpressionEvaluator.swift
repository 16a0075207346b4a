/// Evaluates expressions against the values a run has so far.
public struct ExpressionEvaluator: Sendable {
    /// An evaluation error: a reference with no value, or operands that do not fit the operator.
    public struct EvaluationError: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    public var resolve: @Sendable (Reference) -> Value?

    public init(resolve: @escaping @Sendable (Reference) -> Value?) {
        self.resolve = resolve
    }

    public func evaluate(_ expression: Expression) throws(EvaluationError) -> Value {
        switch expression {
        case .literal(let value):
            return value
        case .reference(let reference):
            guard let value = resolve(reference) else {
                throw EvaluationError(description: "'\(reference)' has no value")
            }
            return value
        case .not(let inner):
            return .bool(!(try evaluate(inner).isTruthy))
        case .negate(let inner):
            let value = try evaluate(inner)
            if case .duration(let duration) = value { return .duration(.zero - duration) }
            return .number(-(try number(value, for: "-")))
        case .binary(let op, let lhs, let rhs):
            switch op {
            case .and:
                let left = try evaluate(lhs)
                return left.isTruthy ? .bool(try evaluate(rhs).isTruthy) : .bool(false)
            case .or:
                let left = try evaluate(lhs)
                return left.isTruthy ? .bool(true) : .bool(try evaluate(rhs).isTruthy)
            default:
                return try apply(op, try evaluate(lhs), try evaluate(rhs))
            }
        }
    }

    private func apply(_ op: BinaryOperator, _ lhs: Value, _ rhs: Value) throws(EvaluationError) -> Value {
        switch op {
        case .equal: return .bool(Self.equal(lhs, rhs))
        case .notEqual: return .bool(!Self.equal(lhs, rhs))
        case .less, .lessOrEqual, .greater, .greaterOrEqual:
            let left = try number(lhs, for: op.rawValue), right = try number(rhs, for: op.rawValue)
            switch op {
            case .less: return .bool(left < right)
            case .lessOrEqual: return .bool(left <= right)
            case .greater: return .bool(left > right)
            default: return .bool(left >= right)
            }
        case .add:
            if case .string = lhs, lhs.numeric == nil { return .string(lhs.text + rhs.text) }
            if case .string = rhs, rhs.numeric == nil { return .string(lhs.text + rhs.text) }
            fallthrough
        case .subtract, .multiply, .divide:
            let left = try number(lhs, for: op.rawValue), right = try number(rhs, for: op.rawValue)
            let result: Double
            switch op {
            case .add: result = left + right
            case .subtract: result = left - right
            case .multiply: result = left * right
            default:
                guard right != 0 else { throw EvaluationError(description: "division by zero") }
                result = left / right
            }
            if op == .add || op == .subtract, lhs.isDuration || rhs.isDuration {
                // A step's output is text from outside: `30s + steps.x.output` may hold 1e300 or nan.
                let milliseconds = result * 1000
                guard milliseconds.isFinite, abs(milliseconds) <= Double(DurationText.longest.milliseconds) else {
                    throw EvaluationError(description: "'\(op.rawValue)' gives a duration beyond 100 years (\(result) s)")
                }
                return .duration(.milliseconds(Int64(milliseconds)))
            }
            return .number(result)
        case .and, .or:
            return .bool(false)
        }
    }

    private func number(_ value: Value, for op: String) throws(EvaluationError) -> Double {
        guard let number = value.numeric else {
            throw EvaluationError(description: "'\(op)' needs numbers or durations, got '\(value.text)'")
        }
        return number
    }

    /// Equality that reads numbers from text, since step outputs are text.
    public static func equal(_ lhs: Value, _ rhs: Value) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case (.null, _), (_, .null): return lhs.text.isEmpty && rhs.text.isEmpty
        case (.string(let a), .string(let b)): return a == b
        case (.bool(let a), _):
            // true equals true, 1 and "true"; false equals false, 0 and "false".
            if let number = rhs.numeric, rhs.text != "true", rhs.text != "false" { return number == (a ? 1 : 0) }
            return rhs.text == (a ? "true" : "false")
        case (_, .bool): return equal(rhs, lhs)
        default:
            if let a = lhs.numeric, let b = rhs.numeric { return a == b }
            return lhs.text == rhs.text
        }
    }
}
