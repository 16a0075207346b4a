import Foundation

/// A value that flows through a run: a parameter, a step input once resolved, a step output.
public enum Value: Sendable, Hashable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case duration(Duration)
    case list([Value])
    case map([String: Value])

    var isDuration: Bool {
        if case .duration = self { return true }
        return false
    }

    /// The text a template shows for this value.
    public var text: String {
        switch self {
        case .null: return ""
        case .bool(let flag): return flag ? "true" : "false"
        case .number(let number): return Value.format(number)
        case .string(let string): return string
        case .duration(let duration): return DurationText.format(duration)
        case .list, .map: return jsonText
        }
    }

    /// Truthiness for conditions: false, 0, "", "false", "0" and null are false.
    public var isTruthy: Bool {
        switch self {
        case .null: return false
        case .bool(let flag): return flag
        case .number(let number): return number != 0
        case .string(let string): return !(string.isEmpty || string == "false" || string == "0")
        case .duration(let duration): return duration != .zero
        case .list(let items): return !items.isEmpty
        case .map(let entries): return !entries.isEmpty
        }
    }

    /// The number this value stands for, reading numeric text (step outputs are text) and durations as seconds.
    public var numeric: Double? {
        switch self {
        case .number(let number): return number
        case .duration(let duration): return duration.seconds
        case .bool(let flag): return flag ? 1 : 0
        case .string(let string):
            let trimmed = string.trimmingCharacters(in: .whitespacesAndNewlines)
            if let number = Double(trimmed) { return number }
            return DurationText.parse(trimmed)?.seconds
        default: return nil
        }
    }

    /// A JSON-compatible object for records and `--json` output.
    public var jsonObject: Any {
        switch self {
        case .null: return NSNull()
        case .bool(let flag): return flag
        case .number(let number): return number
        case .string(let string): return string
        case .duration(let duration): return DurationText.format(duration)
        case .list(let items): return items.map(\.jsonObject)
        case .map(let entries): return entries.mapValues(\.jsonObject)
        }
    }

    public var jsonText: String {
        let object = jsonObject
        guard JSONSerialization.isValidJSONObject(object),
              let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        else { return text }
        return String(decoding: data, as: UTF8.self)
    }

    static func format(_ number: Double) -> String {
        if number.rounded() == number, abs(number) < 1e15 { return String(Int64(number)) }
        return String(number)
    }
}
