/// What validation needs to know of a step primitive: its inputs, their types, its outputs.
public struct PrimitiveSpec: Sendable {
    public var name: String
    /// One line for `runbook list --primitives` and error hints.
    public var summary: String
    public var inputs: [InputSpec]
    public var outputs: [String]
    /// The input that a scalar form fills: `shell: "df -h"` means `shell: {command: "df -h"}`.
    public var shorthand: String?
    /// The primitive waits for people (`approve`): the step's `timeout` is its own to keep (given
    /// in `StepContext.timeout`), so that a wait taken up after a restart ends at the deadline it
    /// first had, and it is not retried, since a rejection or a deadline is the people's answer.
    public var waitsForPeople = false

    public init(name: String, summary: String, inputs: [InputSpec], outputs: [String] = [], shorthand: String? = nil) {
        self.name = name
        self.summary = summary
        self.inputs = inputs
        self.outputs = outputs
        self.shorthand = shorthand
    }

    public func input(_ key: String) -> InputSpec? {
        inputs.first { $0.key == key }
    }
}

public struct InputSpec: Sendable {
    public var key: String
    public var type: InputType
    public var required: Bool
    /// False where pasting a value would be unsafe (a shell command line) or where the value must be
    /// known before the run (the runbook a `run` step starts).
    public var allowsTemplates: Bool
    /// The input names another runbook, so validation checks that it exists and forms no cycle.
    public var namesRunbook: Bool
    /// What to write instead of a template, where templates are not allowed.
    public var instead: String

    public init(
        _ key: String, _ type: InputType, required: Bool = false, allowsTemplates: Bool = true, namesRunbook: Bool = false,
        instead: String = "write the value itself here"
    ) {
        self.key = key
        self.type = type
        self.required = required
        self.allowsTemplates = allowsTemplates
        self.namesRunbook = namesRunbook
        self.instead = instead
    }
}

public enum InputType: Sendable, Equatable {
    case string, int, number, bool, duration, size
    case stringList
    case stringMap
    /// A condition in the expression language, written without `${{ }}`.
    case condition
    /// Another primitive, written as a mapping with one primitive key.
    case primitive
    /// Any YAML value (lists of mappings for row assertions, for example).
    case any

    var noun: String {
        switch self {
        case .string: return "text"
        case .int: return "a whole number"
        case .number: return "a number"
        case .bool: return "true or false"
        case .duration: return "a duration such as 30s or 5m"
        case .size: return "a size such as 500MB"
        case .stringList: return "a list of text"
        case .stringMap: return "a mapping of names to text"
        case .condition: return "a condition"
        case .primitive: return "a primitive such as {shell: {command: ...}}"
        case .any: return "a value"
        }
    }
}

/// The primitives a loader accepts.
public protocol PrimitiveCatalog: Sendable {
    func spec(named name: String) -> PrimitiveSpec?
    var primitiveNames: [String] { get }
    /// What is wrong with inputs that are all written out (no templates), as the primitive
    /// itself would say when the step runs; nil when nothing is, or when templates decide.
    func problem(with primitive: String, inputs: Inputs) -> String?
}

extension PrimitiveCatalog {
    public func problem(with primitive: String, inputs: Inputs) -> String? { nil }
}
