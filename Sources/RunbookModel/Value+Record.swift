import Foundation

/// A step's outputs as the records keep them, so that `runbook resume` gives the steps after
/// them what they saw: JSON, with a duration kept as `{"$duration_ms": N}` to come back a duration.
extension Value {
    static let durationKey = "$duration_ms"

    var recordObject: Any {
        switch self {
        case .duration(let duration): return [Self.durationKey: duration.milliseconds]
        case .list(let items): return items.map(\.recordObject)
        case .map(let entries): return entries.mapValues(\.recordObject)
        default: return jsonObject
        }
    }

    /// The outputs as recorded; nil for none.
    public static func recorded(_ outputs: [String: Value]) -> String? {
        guard !outputs.isEmpty else { return nil }
        let object = outputs.mapValues(\.recordObject)
        guard JSONSerialization.isValidJSONObject(object), let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    /// Outputs read back from the records; nil when the text is not theirs.
    public static func outputs(recorded text: String) -> [String: Value]? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else { return nil }
        return object.mapValues(Value.init(recorded:))
    }

    init(recorded object: Any) {
        switch object {
        case is NSNull: self = .null
        case let text as String: self = .string(text)
        case let number as NSNumber:
            self = String(cString: number.objCType) == "c" ? .bool(number.boolValue) : .number(number.doubleValue)
        case let items as [Any]: self = .list(items.map(Value.init(recorded:)))
        case let entries as [String: Any]:
            if entries.count == 1, let milliseconds = (entries[Self.durationKey] as? NSNumber)?.int64Value {
                self = .duration(.milliseconds(milliseconds))
            } else {
                self = .map(entries.mapValues(Value.init(recorded:)))
            }
        default: self = .null
        }
    }
}
