import Foundation
import Yams

/// What a probe kind measures and takes, so that checks are validated before they run.
public struct ProbeSpec: Sendable {
    public enum Unit: String, Sendable {
        case seconds, milliseconds, count, percent, perHour = "per hour", perMinute = "per minute", perDay = "per day", number
    }

    public var name: String
    public var summary: String
    public var inputs: [InputSpec]
    public var unit: Unit
    /// Thresholds used when a check gives none.
    public var warning: Threshold?
    public var critical: Threshold?
    /// The input a scalar form fills: `probe: {port: 5555}` means `probe: {port: {ports: [5555]}}`.
    public var shorthand: String?

    public init(
        name: String, summary: String, inputs: [InputSpec] = [], unit: Unit, warning: Threshold? = nil, critical: Threshold? = nil,
        shorthand: String? = nil
    ) {
        self.name = name
        self.summary = summary
        self.inputs = inputs
        self.unit = unit
        self.warning = warning
        self.critical = critical
        self.shorthand = shorthand
    }
}

/// The probe kinds a build offers, by name.
public protocol ProbeCatalog: Sendable {
    func probeSpec(named name: String) -> ProbeSpec?
    var probeNames: [String] { get }
}

/// Reads check YAML into a `Check`, reporting every problem with file:line:column.
///
/// ```yaml
/// name: ea-heartbeat
/// probe: {ea_heartbeat: {}}
/// warning: "> 120s"
/// critical: "> 300s"
/// interval: 10s
/// hysteresis: {fail: 3, recover: 2}
/// during: market
/// on_critical: {run: ea-lost}
/// ```
public struct CheckLoader: Sendable {
    public let probes: any ProbeCatalog

    /// Problems of the runbooks checks start: not in `runbooks`, or given parameters they do not
    /// take, values of the wrong type, required ones left out.
    public static func problems(of checks: [Check], against runbooks: RunbookLibrary) -> [Diagnostic] {
        var problems: [Diagnostic] = []
        let names = checks.map(\.name)
        for check in checks {
            for dependency in check.dependsOn where !names.contains(dependency.check) || dependency.check == check.name {
                let why = dependency.check == check.name ? "a check cannot depend on itself" : "no check named '\(dependency.check)'\(Suggestion.hint(for: dependency.check, in: names))"
                problems.append(.reading(dependency.location, "depends_on: \(why); its incidents would never hold this check's notifications back"))
            }
            for action in [check.onCritical, check.onWarning].compactMap({ $0 }) {
                guard let runbook = runbooks.runbooks[action.runbook] else {
                    problems.append(.reading(action.location, "unknown runbook '\(action.runbook)'\(Suggestion.hint(for: action.runbook, in: runbooks.runbooks.keys)); runbooks here: \(runbooks.runbooks.keys.sorted().joined(separator: ", "))"))
                    continue
                }
                do {
                    _ = try ParamBinding.bind(action.params, to: runbook)
                } catch {
                    problems.append(.reading(action.location, "\(error)"))
                }
            }
        }
        return problems
    }

    static let topKeys = [
        "name", "description", "probe", "warning", "critical", "interval", "timeout", "hysteresis", "during", "on_critical", "on_warning",
        "cooldown", "flapping", "depends_on", "scope",
    ]

    public init(probes: any ProbeCatalog) {
        self.probes = probes
    }

    public func load(text: String, file: String) throws(ValidationFailure) -> Check {
        var source = YAMLSource(file: file, text: text)
        let check = read(&source)
        guard let check, source.diagnostics.isEmpty else { throw ValidationFailure(Diagnostic.inFileOrder(source.diagnostics)) }
        return check
    }

    /// Every check in `paths` (files, or folders of `.yaml` files); problems of all files together.
    public func loadAll(paths: [String]) throws(ValidationFailure) -> [Check] {
        var checks: [Check] = []
        var diagnostics: [Diagnostic] = []
        for file in RunbookLibrary.yamlFiles(in: paths) where FileManager.default.fileExists(atPath: file) {
            do {
                let check = try load(text: YAMLFile.read(file, unreadable: "cannot read the file: check that it is readable"), file: file)
                if let other = checks.first(where: { $0.name == check.name }) {
                    diagnostics.append(.reading(check.location, "check name '\(check.name)' is already used by \(other.file): rename one of them"))
                } else {
                    checks.append(check)
                }
            } catch {
                diagnostics += error.diagnostics
            }
        }
        if !diagnostics.isEmpty { throw ValidationFailure(diagnostics) }
        return checks.sorted { $0.name < $1.name }
    }

    private func read(_ source: inout YAMLSource) -> Check? {
        guard let root = source.compose() else {
            if source.diagnostics.isEmpty { source.error(SourceLocation(file: source.file, line: 1, column: 1), "the file is empty: a check needs name and probe") }
            return nil
        }
        guard let top = source.entries(root, what: "a check") else { return nil }
        source.rejectUnknownKeys(top, allowed: Self.topKeys, in: "the check")
        let value = { (key: String) in top.first { $0.key == key }?.value }

        var name = ""
        if let node = value("name"), let text = source.string(node, what: "name") {
            name = text
            if !RunbookLoader.isRunbookName(name) { source.error(node, "check name '\(name)' may use lower-case letters, digits, '-' and '_' only") }
        } else if value("name") == nil {
            source.error(root, "the check has no name: add `name: \(URL(fileURLWithPath: source.file).deletingPathExtension().lastPathComponent)`")
        }
        guard let probeNode = value("probe") else {
            source.error(root, "the check has no probe: add `probe:` with one of \(probes.probeNames.joined(separator: ", "))")
            return nil
        }
        // The rest is read even when the probe is not, so that every mistake shows at once.
        let probe = readProbe(probeNode, &source)
        let spec = probe?.1
        var check = Check(name: name, probe: probe?.0 ?? ProbeConfig(kind: ""), file: source.file, location: source.location(root))
        check.description = value("description").flatMap { source.string($0, what: "description") } ?? ""
        check.warning = value("warning").flatMap { readThreshold($0, "warning", unit: spec?.unit, &source) } ?? spec?.warning
        check.critical = value("critical").flatMap { readThreshold($0, "critical", unit: spec?.unit, &source) } ?? spec?.critical
        if let spec, check.warning == nil, check.critical == nil {
            source.error(probeNode, "probe '\(spec.name)' has no default limits: add `warning:` or `critical:` such as \"> 300s\" or \"< 1\"")
        }
        if let node = value("interval"), let interval = source.duration(node, what: "interval") {
            if interval < .milliseconds(100) { source.error(node, "interval \(DurationText.format(interval)) is too short: use 100ms or more") } else { check.interval = interval }
        }
        if let node = value("timeout"), let timeout = source.duration(node, what: "timeout") { check.timeout = timeout }
        if let node = value("cooldown"), let cooldown = source.duration(node, what: "cooldown") { check.cooldown = cooldown }
        if let node = value("scope"), let scope = source.string(node, what: "scope") {
            switch scope {
            case "local": check.shared = false
            case "shared": check.shared = true
            default: source.error(node, "scope '\(scope.prefix(40))' is not known: write local (each engine checks its own, the default) or shared (the leader checks it for the fleet)")
            }
        }
        if let node = value("depends_on") {
            for item in node.sequence ?? [node] {
                guard let name = source.string(item, what: "a check name in depends_on") else { continue }
                check.dependsOn.append(CheckDependency(check: name, location: source.location(item)))
            }
        }
        if let node = value("hysteresis"), let entries = source.entries(node, what: "hysteresis") {
            source.rejectUnknownKeys(entries, allowed: ["fail", "recover"], in: "hysteresis")
            for (key, _, value) in entries {
                guard let count = source.integer(value, what: "hysteresis.\(key)", range: 1...100) else { continue }
                if key == "fail" { check.failAfter = count } else { check.recoverAfter = count }
            }
        }
        if let node = value("flapping"), let entries = source.entries(node, what: "flapping") {
            source.rejectUnknownKeys(entries, allowed: ["changes", "window"], in: "flapping")
            for (key, _, value) in entries {
                if key == "changes", let count = source.integer(value, what: "flapping.changes", range: 2...1000) { check.flapLimit = count }
                if key == "window", let window = source.duration(value, what: "flapping.window") { check.flapWindow = window }
            }
        }
        if let node = value("during"), let text = source.string(node, what: "during") {
            if text == "market" { check.duringMarket = true } else if text != "always" {
                source.error(node, "during '\(text)' is not known: write `during: market` (forex hours) or leave it out")
            }
        }
        check.onCritical = value("on_critical").flatMap { readAction($0, "on_critical", &source) }
        check.onWarning = value("on_warning").flatMap { readAction($0, "on_warning", &source) }
        return probe == nil ? nil : check
    }

    private func readProbe(_ node: Node, _ source: inout YAMLSource) -> (ProbeConfig, ProbeSpec)? {
        let kindNode: Node
        let body: Node?
        if node.scalar != nil {
            kindNode = node
            body = nil
        } else {
            guard let entries = source.entries(node, what: "probe"), entries.count == 1 else {
                if node.mapping != nil { source.error(node, "probe takes exactly one kind, such as {port: 5555} or {ea_heartbeat: {}}") }
                return nil
            }
            kindNode = entries[0].keyNode
            body = entries[0].value
        }
        guard let kind = kindNode.scalar?.string else { return nil }
        guard let spec = probes.probeSpec(named: kind) else {
            source.error(kindNode, "unknown probe '\(kind)'\(Suggestion.hint(for: kind, in: probes.probeNames)); probes: \(probes.probeNames.joined(separator: ", "))")
            return nil
        }
        var written: [(key: String, keyNode: Node, value: Node)] = []
        if let body, body.mapping != nil {
            written = source.entries(body, what: "the inputs of probe '\(kind)'") ?? []
        } else if let body, body.scalar != nil, body.null == nil {
            guard let shorthand = spec.shorthand else {
                source.error(body, "probe '\(kind)' needs a mapping of inputs (\(spec.inputs.map(\.key).joined(separator: ", ")))")
                return nil
            }
            written = [(shorthand, body, body)]
        } else if let body, body.sequence != nil {
            guard let shorthand = spec.shorthand else {
                source.error(body, "probe '\(kind)' needs a mapping of inputs, not a list")
                return nil
            }
            written = [(shorthand, body, body)]
        }
        source.rejectUnknownKeys(written, allowed: spec.inputs.map(\.key), in: "probe '\(kind)'")
        var inputs: [String: Value] = [:]
        for input in spec.inputs {
            guard let entry = written.first(where: { $0.key == input.key }) else {
                if input.required { source.error(body ?? kindNode, "probe '\(kind)' needs '\(input.key)' (\(input.type.noun))") }
                continue
            }
            if let value = readValue(entry.value, input: input, what: "'\(input.key)' of probe '\(kind)'", &source) { inputs[input.key] = value }
        }
        return (ProbeConfig(kind: kind, inputs: inputs), spec)
    }

    private func readValue(_ node: Node, input: InputSpec, what: String, _ source: inout YAMLSource) -> Value? {
        if input.type == .stringList {
            let items = node.sequence ?? [node]
            let texts = items.compactMap { source.string($0, what: what) }
            return texts.count == items.count ? .list(texts.map(Value.string)) : nil
        }
        guard let text = source.string(node, what: what) else { return nil }
        let literal = YAMLSource.literal(node)
        switch input.type {
        case .int:
            guard case .number(let number) = literal, number.rounded() == number else { source.error(node, "\(what) must be a whole number, not '\(text)'"); return nil }
            return literal
        case .number:
            guard case .number = literal else { source.error(node, "\(what) must be a number, not '\(text)'"); return nil }
            return literal
        case .bool:
            guard case .bool = literal else { source.error(node, "\(what) must be true or false, not '\(text)'"); return nil }
            return literal
        case .duration:
            guard let duration = DurationText.parse(text) else {
                source.error(node, "'\(text)' is not a duration for \(what): write it like 30s, 5m, 1h30m or 7d")
                return nil
            }
            return .duration(duration)
        default:
            return .string(text)
        }
    }

    private func readThreshold(_ node: Node, _ what: String, unit: ProbeSpec.Unit?, _ source: inout YAMLSource) -> Threshold? {
        guard let text = source.string(node, what: what) else { return nil }
        guard let threshold = Threshold.parse(text) else {
            source.error(node, "'\(text)' is not a limit for \(what): write a comparison and a value, such as \"> 300s\", \"< 52\" or \"< 10%\" (quoted)")
            return nil
        }
        let amount = text.trimmingCharacters(in: .whitespaces).drop { "<>=!".contains($0) }.trimmingCharacters(in: .whitespaces)
        if let unit, unit != .seconds, Double(amount.replacingOccurrences(of: "%", with: "")) == nil {
            source.error(node, "\(what) '\(text)' is a duration, but this probe measures \(unit.rawValue): write a number")
            return nil
        }
        return threshold
    }

    private func readAction(_ node: Node, _ what: String, _ source: inout YAMLSource) -> CheckAction? {
        guard let entries = source.entries(node, what: what) else { return nil }
        source.rejectUnknownKeys(entries, allowed: ["run", "params"], in: what)
        guard let runNode = entries.first(where: { $0.key == "run" })?.value, let runbook = source.string(runNode, what: "\(what).run") else {
            source.error(node, "\(what) needs `run: RUNBOOK`")
            return nil
        }
        var params: [String: String] = [:]
        if let paramsNode = entries.first(where: { $0.key == "params" })?.value, let pairs = source.entries(paramsNode, what: "\(what).params") {
            for (key, _, value) in pairs { params[key] = source.string(value, what: "\(what).params.\(key)") }
        }
        return CheckAction(runbook: runbook, params: params, location: source.textLocation(runNode))
    }
}
