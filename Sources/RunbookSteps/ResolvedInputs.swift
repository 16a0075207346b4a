import RunbookModel

/// A step's inputs with templates resolved, read through typed accessors.
public struct ResolvedInputs: Sendable {
    public var values: [String: Value]
    /// Conditions the primitive evaluates itself.
    public var conditions: [String: Condition]
    /// Primitives written inside this one, resolved when the primitive runs them.
    public var nested: [String: NestedPrimitive]

    public init(values: [String: Value] = [:], conditions: [String: Condition] = [:], nested: [String: NestedPrimitive] = [:]) {
        self.values = values
        self.conditions = conditions
        self.nested = nested
    }

    /// Inputs as written, when none of them holds a template; nil otherwise.
    public init?(literal inputs: Inputs) {
        self.init()
        func value(_ input: InputValue) -> Value? {
            switch input {
            case .template(let template, _): return template.literalText.map(Value.string)
            case .literal(let value, _): return value
            case .list(let items, _):
                let values = items.compactMap(value)
                return values.count == items.count ? .list(values) : nil
            case .map(let entries, _):
                var values: [String: Value] = [:]
                for entry in entries {
                    guard let item = value(entry.value) else { return nil }
                    values[entry.key] = item
                }
                return .map(values)
            case .condition, .primitive: return nil
            }
        }
        for entry in inputs.entries {
            switch entry.value {
            case .condition(let condition, _): conditions[entry.key] = condition
            case .primitive(let nested): self.nested[entry.key] = nested
            default:
                guard let resolved = value(entry.value) else { return nil }
                values[entry.key] = resolved
            }
        }
    }

    public func has(_ key: String) -> Bool { values[key] != nil && values[key] != .null }

    public func string(_ key: String) throws(StepInputError) -> String {
        guard let value = values[key], value != .null else { throw StepInputError("input '\(key)' is missing") }
        return value.text
    }

    public func string(_ key: String, default fallback: String) -> String {
        has(key) ? values[key]!.text : fallback
    }

    public func int(_ key: String, default fallback: Int? = nil) throws(StepInputError) -> Int {
        guard has(key) else {
            if let fallback { return fallback }
            throw StepInputError("input '\(key)' is missing")
        }
        guard let number = values[key]!.numeric, let whole = Int(exactly: number) else {
            throw StepInputError("input '\(key)' is '\(values[key]!.text)', not a whole number")
        }
        return whole
    }

    public func bool(_ key: String, default fallback: Bool) throws(StepInputError) -> Bool {
        guard has(key) else { return fallback }
        switch values[key]! {
        case .bool(let flag): return flag
        case let other:
            guard let flag = ParamType.bool.value(from: other.text) else { throw StepInputError("input '\(key)' is '\(other.text)', not true or false") }
            return flag == .bool(true)
        }
    }

    public func duration(_ key: String, default fallback: Duration? = nil) throws(StepInputError) -> Duration {
        guard has(key) else {
            if let fallback { return fallback }
            throw StepInputError("input '\(key)' is missing")
        }
        switch values[key]! {
        case .duration(let duration): return duration
        case .number(let seconds):
            guard let duration = DurationText.seconds(seconds) else {
                throw StepInputError("input '\(key)' is \(seconds) seconds: write a duration from 0s to \(DurationText.format(DurationText.longest))")
            }
            return duration
        case let other:
            guard let duration = DurationText.parse(other.text) else {
                throw StepInputError("input '\(key)' is '\(other.text)', not a duration such as 30s or 5m")
            }
            return duration
        }
    }

    public func optionalDuration(_ key: String) throws(StepInputError) -> Duration? {
        has(key) ? try duration(key) : nil
    }

    /// A size in bytes; text such as `1GB` is read as a size.
    public func size(_ key: String) throws(StepInputError) -> Int64? {
        guard has(key) else { return nil }
        if case .number(let bytes) = values[key]! { return Int64(bytes) }
        guard let bytes = ByteSize.parse(values[key]!.text) else {
            throw StepInputError("input '\(key)' is '\(values[key]!.text)', not a size such as 500MB")
        }
        return bytes
    }

    public func strings(_ key: String, default fallback: [String] = []) -> [String] {
        guard has(key) else { return fallback }
        if case .list(let items) = values[key]! { return items.map(\.text) }
        return [values[key]!.text]
    }

    public func stringMap(_ key: String) -> [String: String] {
        guard case .map(let entries)? = values[key] else { return [:] }
        return entries.mapValues(\.text)
    }
}
