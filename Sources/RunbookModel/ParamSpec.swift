/// A declared runbook parameter.
public struct ParamSpec: Sendable {
    public var name: String
    public var type: ParamType
    public var defaultValue: Value?
    /// A secret parameter's value never reaches records or logs.
    public var secret: Bool
    public var description: String
    public var location: SourceLocation

    public init(name: String, type: ParamType, defaultValue: Value? = nil, secret: Bool = false, description: String = "", location: SourceLocation) {
        self.name = name
        self.type = type
        self.defaultValue = defaultValue
        self.secret = secret
        self.description = description
        self.location = location
    }

    public var isRequired: Bool { defaultValue == nil }
}

public enum ParamType: String, Sendable, CaseIterable {
    case string, int, number, bool, duration, size, path

    /// Reads a value of this type from text (a `--param` or an environment value).
    public func value(from text: String) -> Value? {
        switch self {
        case .string, .path: return .string(text)
        case .int: return Int64(text).map { .number(Double($0)) }
        case .number: return Double(text).map { .number($0) }
        case .bool:
            switch text.lowercased() {
            case "true", "yes", "1": return .bool(true)
            case "false", "no", "0": return .bool(false)
            default: return nil
            }
        case .duration: return DurationText.parse(text).map { .duration($0) }
        case .size: return ByteSize.parse(text).map { .number(Double($0)) }
        }
    }

    /// What an operator should write, for error messages.
    public var example: String {
        switch self {
        case .string, .path: return "any text"
        case .int: return "a whole number such as 3"
        case .number: return "a number such as 2.5"
        case .bool: return "true or false"
        case .duration: return "a duration such as 30s, 5m or 7d"
        case .size: return "a size such as 500MB or 1GB"
        }
    }
}
