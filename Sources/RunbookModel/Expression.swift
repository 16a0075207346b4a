/// A parsed condition or template expression.
public indirect enum Expression: Sendable, Hashable {
    case literal(Value)
    case reference(Reference)
    case not(Expression)
    case negate(Expression)
    case binary(BinaryOperator, Expression, Expression)

    /// Every reference the expression reads, for validation.
    public var references: [Reference] {
        switch self {
        case .literal: return []
        case .reference(let reference): return [reference]
        case .not(let inner), .negate(let inner): return inner.references
        case .binary(_, let lhs, let rhs): return lhs.references + rhs.references
        }
    }
}

public enum BinaryOperator: String, Sendable, Hashable {
    case and, or
    case equal = "==", notEqual = "!="
    case less = "<", lessOrEqual = "<=", greater = ">", greaterOrEqual = ">="
    case add = "+", subtract = "-", multiply = "*", divide = "/"
}

/// A dotted name such as `params.target` or `steps.check_age.outputs.age`.
public struct Reference: Sendable, Hashable, CustomStringConvertible {
    public var path: [String]
    /// Column offset of the reference inside its expression text, for error locations.
    public var offset: Int

    public init(path: [String], offset: Int = 0) {
        self.path = path
        self.offset = offset
    }

    public var description: String { path.joined(separator: ".") }

    public static func == (lhs: Reference, rhs: Reference) -> Bool { lhs.path == rhs.path }
    public func hash(into hasher: inout Hasher) { hasher.combine(path) }
}
