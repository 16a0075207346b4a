/// Turns `--param k=v` text into typed parameter values, with defaults filled in.
public enum ParamBinding {
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    public static func bind(_ raw: [String: String], to runbook: Runbook) throws(Failure) -> [String: Value] {
        var values: [String: Value] = [:]
        for (name, text) in raw {
            guard let spec = runbook.param(named: name) else {
                let known = runbook.params.map(\.name)
                throw Failure(description: "runbook '\(runbook.name)' has no parameter '\(name)'\(Suggestion.hint(for: name, in: known)); it takes \(known.isEmpty ? "none" : known.joined(separator: ", "))")
            }
            guard let value = spec.type.value(from: text) else {
                throw Failure(description: "parameter '\(name)' is \(spec.secret ? "not valid" : "'\(text)'"): give \(spec.type.example)")
            }
            values[name] = value
        }
        for spec in runbook.params where values[spec.name] == nil {
            guard let fallback = spec.defaultValue else {
                throw Failure(description: "runbook '\(runbook.name)' needs parameter '\(spec.name)' (\(spec.type.example)): pass --param \(spec.name)=VALUE")
            }
            values[spec.name] = fallback
        }
        return values
    }

    /// Parses `k=v` arguments.
    public static func parse(_ arguments: [String]) throws(Failure) -> [String: String] {
        var raw: [String: String] = [:]
        for argument in arguments {
            guard let equals = argument.firstIndex(of: "="), equals != argument.startIndex else {
                throw Failure(description: "--param '\(argument)' should look like NAME=VALUE")
            }
            raw[String(argument[..<equals])] = String(argument[argument.index(after: equals)...])
        }
        return raw
    }
}
