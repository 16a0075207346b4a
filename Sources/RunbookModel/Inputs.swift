/// A step's inputs as written: templates and literals, each with its place in the file.
public struct Inputs: Sendable {
    public var entries: [InputEntry]

    public init(_ entries: [InputEntry] = []) {
        self.entries = entries
    }

    public subscript(key: String) -> InputValue? {
        entries.first { $0.key == key }?.value
    }

    public var references: [(Reference, SourceLocation)] {
        entries.flatMap(\.value.references)
    }
}

public struct InputEntry: Sendable {
    public var key: String
    public var value: InputValue

    public init(key: String, value: InputValue) {
        self.key = key
        self.value = value
    }
}

/// An input value before the run resolves its templates.
public indirect enum InputValue: Sendable {
    case template(Template, SourceLocation)
    case literal(Value, SourceLocation)
    /// A condition evaluated by the primitive itself, as often as it needs (`wait_until`).
    case condition(Condition, SourceLocation)
    case list([InputValue], SourceLocation)
    case map([InputEntry], SourceLocation)
    /// A primitive inside another one, such as the check that `wait_until` polls.
    case primitive(NestedPrimitive)

    public var location: SourceLocation {
        switch self {
        case .template(_, let location), .literal(_, let location), .condition(_, let location), .list(_, let location), .map(_, let location):
            return location
        case .primitive(let nested):
            return nested.location
        }
    }

    /// References in templates, each with the location of its expression.
    public var references: [(Reference, SourceLocation)] {
        switch self {
        case .template(let template, let location):
            return template.references.map { ($0, location) }
        case .condition(let condition, let location):
            return condition.expression.references.map { ($0, location) }
        case .literal:
            return []
        case .list(let items, _):
            return items.flatMap(\.references)
        case .map(let entries, _):
            return entries.flatMap(\.value.references)
        case .primitive(let nested):
            return nested.inputs.references
        }
    }
}

/// A primitive written inside another step's inputs.
public struct NestedPrimitive: Sendable {
    public var name: String
    public var inputs: Inputs
    public var location: SourceLocation

    public init(name: String, inputs: Inputs, location: SourceLocation) {
        self.name = name
        self.inputs = inputs
        self.location = location
    }
}
