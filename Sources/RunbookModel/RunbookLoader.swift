import Foundation
import Yams

/// Reads runbook YAML into a `Runbook`, reporting every problem with file:line:column.
public struct RunbookLoader: Sendable {
    public let catalog: any PrimitiveCatalog

    static let topKeys = ["name", "description", "params", "steps", "requires_confirmation"]
    static let paramKeys = ["type", "default", "secret", "description"]
    static let stepKeys = ["id", "name", "when", "timeout", "retries", "on_failure", "outputs"]
    static let retryKeys = ["count", "initial_delay", "max_delay"]

    public init(catalog: any PrimitiveCatalog) {
        self.catalog = catalog
    }

    /// Loads the runbook in `path`.
    public func load(path: String) throws(ValidationFailure) -> Runbook {
        try load(text: YAMLFile.read(path, unreadable: "cannot read the file: check that it exists and is readable"), file: path)
    }

    /// Loads a runbook from YAML text; `file` names it in diagnostics.
    public func load(text: String, file: String) throws(ValidationFailure) -> Runbook {
        let (runbook, diagnostics) = read(text: text, file: file)
        guard let runbook, diagnostics.isEmpty else { throw ValidationFailure(diagnostics) }
        return runbook
    }

    /// As much of a runbook as could be read, with every problem found: a runbook with problems
    /// is never run, but the links it makes to other runbooks can still be checked.
    public func read(text: String, file: String) -> (Runbook?, [Diagnostic]) {
        var source = YAMLSource(file: file, text: text)
        let runbook = read(&source)
        return (runbook, Diagnostic.inFileOrder(source.diagnostics))
    }

    private func read(_ source: inout YAMLSource) -> Runbook? {
        guard let root = source.compose() else {
            if source.diagnostics.isEmpty { source.error(SourceLocation(file: source.file, line: 1, column: 1), "the file is empty: a runbook needs name and steps") }
            return nil
        }
        guard let top = source.entries(root, what: "a runbook") else { return nil }
        source.rejectUnknownKeys(top, allowed: Self.topKeys, in: "the runbook")
        let value = { (key: String) in top.first { $0.key == key }?.value }

        var name = ""
        if let node = value("name") {
            name = source.string(node, what: "name") ?? ""
            if !name.isEmpty, !Self.isRunbookName(name) {
                source.error(node, "runbook name '\(name)' may use lower-case letters, digits, '-' and '_' only")
            }
        } else {
            source.error(root, "the runbook has no name: add `name: \(URL(fileURLWithPath: source.file).deletingPathExtension().lastPathComponent)`")
        }
        let description = value("description").flatMap { source.string($0, what: "description") } ?? ""
        let params = value("params").map { readParams($0, &source) } ?? []

        var steps: [Step] = []
        if let node = value("steps") {
            if let sequence = node.sequence {
                if sequence.isEmpty { source.error(node, "steps is empty: a runbook needs at least one step") }
                var seen: [String: Int] = [:]
                for item in sequence {
                    guard let step = readStep(item, &source) else { continue }
                    if let first = seen[step.id] {
                        source.error(step.location, "duplicate step id '\(step.id)' (first used on line \(first)): give each step its own id")
                    } else {
                        seen[step.id] = step.location.line
                    }
                    steps.append(step)
                }
            } else {
                source.error(node, "steps must be a list of steps, each starting with '- id:'")
            }
        } else {
            source.error(root, "the runbook has no steps: add `steps:` with at least one step")
        }
        checkReferences(steps: steps, params: params, &source)
        var runbook = Runbook(name: name, description: description, params: params, steps: steps, file: source.file, contentHash: ContentHash.of(source.text))
        if let node = value("requires_confirmation") {
            if let flag = node.bool { runbook.requiresConfirmation = flag } else { source.error(node, "requires_confirmation must be true or false") }
        }
        return runbook
    }

    static func isRunbookName(_ name: String) -> Bool {
        name.first.map { $0.isLowercase || $0.isNumber } == true
            && name.allSatisfy { ($0.isLowercase || $0.isNumber || $0 == "-" || $0 == "_") && $0.isASCII }
    }

    static func isIdentifier(_ name: String) -> Bool {
        guard let first = name.first, first.isLetter || first == "_" else { return false }
        return name.allSatisfy { ($0.isLetter || $0.isNumber || $0 == "_") && $0.isASCII }
    }

    // MARK: Parameters

    private func readParams(_ node: Node, _ source: inout YAMLSource) -> [ParamSpec] {
        guard let entries = source.entries(node, what: "params") else { return [] }
        var params: [ParamSpec] = []
        for (name, keyNode, body) in entries {
            if !Self.isIdentifier(name) {
                source.error(keyNode, "parameter name '\(name)' may use letters, digits and '_' only, and must not start with a digit")
            }
            guard let fields = source.entries(body, what: "parameter '\(name)'") else { continue }
            source.rejectUnknownKeys(fields, allowed: Self.paramKeys, in: "parameter '\(name)'")
            let field = { (key: String) in fields.first { $0.key == key }?.value }
            var type = ParamType.string
            if let typeNode = field("type"), let text = source.string(typeNode, what: "type") {
                if let parsed = ParamType(rawValue: text) {
                    type = parsed
                } else {
                    source.error(typeNode, "unknown parameter type '\(text)'\(Suggestion.hint(for: text, in: ParamType.allCases.map(\.rawValue))); use one of \(ParamType.allCases.map(\.rawValue).joined(separator: ", "))")
                }
            }
            var defaultValue: Value?
            if let defaultNode = field("default") {
                let text = defaultNode.scalar?.string ?? ""
                if defaultNode.scalar == nil {
                    source.error(defaultNode, "the default of '\(name)' must be a single value")
                } else if let value = type.value(from: text) {
                    defaultValue = value
                } else {
                    source.error(defaultNode, "default '\(text)' of '\(name)' is not \(type.example)")
                }
            }
            var secret = false
            if let secretNode = field("secret") {
                if let flag = secretNode.bool, secretNode.scalar?.style == .plain { secret = flag } else { source.error(secretNode, "secret must be true or false") }
            }
            let description = field("description").flatMap { source.string($0, what: "description") } ?? ""
            params.append(ParamSpec(name: name, type: type, defaultValue: defaultValue, secret: secret, description: description, location: source.location(keyNode)))
        }
        return params
    }

    // MARK: Steps

    private func readStep(_ node: Node, _ source: inout YAMLSource) -> Step? {
        guard let entries = source.entries(node, what: "a step") else { return nil }
        let field = { (key: String) in entries.first { $0.key == key }?.value }
        let location = source.location(node)

        var id = ""
        if let idNode = field("id") {
            id = source.string(idNode, what: "id") ?? ""
            if !id.isEmpty, !Self.isIdentifier(id) {
                source.error(idNode, "step id '\(id)' may use letters, digits and '_' only, and must not start with a digit (so expressions can name it)")
            }
        } else {
            source.error(node, "this step has no id: add `id:` with a name such as check_age")
        }

        var primitives: [(name: String, keyNode: Node, body: Node)] = []
        for entry in entries where !Self.stepKeys.contains(entry.key) {
            if catalog.spec(named: entry.key) != nil {
                primitives.append((entry.key, entry.keyNode, entry.value))
            } else {
                let candidates = Self.stepKeys + catalog.primitiveNames
                source.error(entry.keyNode, "unknown key '\(entry.key)' in step '\(id)'\(Suggestion.hint(for: entry.key, in: candidates)); a step takes \(Self.stepKeys.joined(separator: ", ")) and one primitive (\(catalog.primitiveNames.joined(separator: ", ")))")
            }
        }
        if primitives.count > 1 {
            source.error(primitives[1].keyNode, "step '\(id)' has two primitives ('\(primitives[0].name)' and '\(primitives[1].name)'): split it into two steps")
        }
        let unknownPrimitive = entries.contains { !Self.stepKeys.contains($0.key) && catalog.spec(named: $0.key) == nil }
        if primitives.isEmpty && !unknownPrimitive {
            source.error(node, "step '\(id)' has no primitive: add one of \(catalog.primitiveNames.joined(separator: ", "))")
        }

        let when = field("when").flatMap { readCondition($0, &source) }
        let timeout = field("timeout").flatMap { source.duration($0, what: "timeout") }
        let retries = field("retries").map { readRetries($0, &source) } ?? .none
        let onFailure = field("on_failure").map { readFailurePolicy($0, &source) } ?? .abort
        var outputs: [String] = []
        if let outputsNode = field("outputs") {
            if let items = outputsNode.sequence {
                for item in items {
                    guard let name = source.string(item, what: "an output name") else { continue }
                    if Self.isIdentifier(name) { outputs.append(name) } else { source.error(item, "output name '\(name)' may use letters, digits and '_' only") }
                }
            } else {
                source.error(outputsNode, "outputs must be a list of names, such as [age, count]")
            }
        }

        guard let primitive = primitives.first, let spec = catalog.spec(named: primitive.name) else { return nil }
        var references: [RunbookReference] = []
        let before = source.diagnostics.count
        let inputs = readInputs(primitive.body, spec: spec, owner: "step '\(id)'", references: &references, &source)
        if source.diagnostics.count == before, let problem = catalog.problem(with: spec.name, inputs: inputs) {
            source.error(primitive.keyNode, "'\(spec.name)' of step '\(id)': \(problem)")
        }
        return Step(
            id: id, name: field("name").flatMap { source.string($0, what: "name") }, primitive: primitive.name, inputs: inputs,
            when: when, timeout: timeout, retries: retries, onFailure: onFailure, outputs: outputs, location: location,
            runbookReferences: references
        )
    }

    private func readCondition(_ node: Node, _ source: inout YAMLSource) -> Condition? {
        guard let text = source.string(node, what: "a condition") else { return nil }
        var body = text.trimmingCharacters(in: .whitespaces)
        var prefix = text.count - text.drop(while: { $0 == " " }).count
        if body.hasPrefix("${{"), body.hasSuffix("}}") {
            body = String(body.dropFirst(3).dropLast(2))
            prefix += 3
        }
        do {
            return Condition(expression: try ExpressionParser.parse(body), text: body.trimmingCharacters(in: .whitespaces), location: source.location(in: node, offset: prefix))
        } catch {
            source.error(source.location(in: node, offset: prefix + error.offset), error.message)
            return nil
        }
    }

    private func readRetries(_ node: Node, _ source: inout YAMLSource) -> RetryPolicy {
        if node.scalar != nil {
            return RetryPolicy(count: source.integer(node, what: "retries", range: 0...100) ?? 0)
        }
        guard let entries = source.entries(node, what: "retries") else { return .none }
        source.rejectUnknownKeys(entries, allowed: Self.retryKeys, in: "retries")
        var policy = RetryPolicy(count: 0)
        for (key, _, value) in entries {
            switch key {
            case "count": policy.count = source.integer(value, what: "retries.count", range: 0...100) ?? 0
            case "initial_delay": policy.initialDelay = source.duration(value, what: "retries.initial_delay") ?? policy.initialDelay
            case "max_delay": policy.maxDelay = source.duration(value, what: "retries.max_delay") ?? policy.maxDelay
            default: break
            }
        }
        if policy.maxDelay < policy.initialDelay, let node = entries.first(where: { $0.key == "max_delay" })?.value {
            source.error(node, "max_delay is shorter than initial_delay: make it at least \(DurationText.format(policy.initialDelay))")
        }
        return policy
    }

    private func readFailurePolicy(_ node: Node, _ source: inout YAMLSource) -> FailurePolicy {
        let allowed = "abort, continue, {escalate: N} or {run: RUNBOOK}"
        if let text = node.scalar?.string {
            switch text {
            case "abort": return .abort
            case "continue": return .continue
            default:
                source.error(node, "unknown on_failure '\(text)'\(Suggestion.hint(for: text, in: ["abort", "continue"])); use \(allowed)")
                return .abort
            }
        }
        guard let entries = source.entries(node, what: "on_failure"), entries.count == 1 else {
            source.error(node, "on_failure takes one of \(allowed)")
            return .abort
        }
        let (key, keyNode, value) = entries[0]
        switch key {
        case "escalate":
            return .escalate(source.integer(value, what: "escalate", range: 1...4) ?? 1)
        case "run":
            guard let name = source.string(value, what: "the runbook to run") else { return .abort }
            return .run(name)
        default:
            source.error(keyNode, "unknown on_failure '\(key)'\(Suggestion.hint(for: key, in: ["escalate", "run"])); use \(allowed)")
            return .abort
        }
    }

    // MARK: Inputs

    private func readInputs(
        _ body: Node, spec: PrimitiveSpec, owner: String, references: inout [RunbookReference], _ source: inout YAMLSource,
        written given: [(key: String, keyNode: Node, value: Node)]? = nil
    ) -> Inputs {
        var entries: [InputEntry] = []
        var written: [(key: String, keyNode: Node, value: Node)] = []
        if let given {
            written = given
        } else if body.scalar != nil, body.null == nil || body.scalar?.style != .plain {
            guard let shorthand = spec.shorthand else {
                source.error(body, "'\(spec.name)' needs a mapping of inputs (\(spec.inputs.map(\.key).joined(separator: ", ")))")
                return Inputs()
            }
            written = [(shorthand, body, body)]
        } else if body.mapping != nil {
            written = source.entries(body, what: "the inputs of '\(spec.name)'") ?? []
        } else if body.sequence != nil {
            source.error(body, "'\(spec.name)' needs a mapping of inputs, not a list")
            return Inputs()
        }
        source.rejectUnknownKeys(written, allowed: spec.inputs.map(\.key), in: "'\(spec.name)' of \(owner)")
        for input in spec.inputs {
            guard let entry = written.first(where: { $0.key == input.key }) else {
                if input.required { source.error(body, "'\(spec.name)' of \(owner) needs '\(input.key)' (\(input.type.noun))") }
                continue
            }
            guard let value = readInput(entry.value, input: input, primitive: spec.name, references: &references, &source) else { continue }
            if input.namesRunbook, case .template(let template, let location) = value, let name = template.literalText {
                let passed = written.first { $0.key == "params" }?.value.mapping?.compactMap { $0.key.scalar?.string } ?? []
                references.append(RunbookReference(name: name, location: location, params: passed))
            }
            entries.append(InputEntry(key: input.key, value: value))
        }
        return Inputs(entries)
    }

    private func readInput(_ node: Node, input: InputSpec, primitive: String, references: inout [RunbookReference], _ source: inout YAMLSource) -> InputValue? {
        let what = "'\(input.key)' of '\(primitive)'"
        switch input.type {
        case .condition:
            return readCondition(node, &source).map { .condition($0, $0.location) }
        case .primitive:
            guard let entries = source.entries(node, what: what) else { return nil }
            // `{check: ea-heartbeat, status: healthy}` is `{check: {name: ea-heartbeat, status: healthy}}`.
            let primitives = entries.filter { catalog.spec(named: $0.key) != nil }
            if entries.count > 1, primitives.count == 1, let spec = catalog.spec(named: primitives[0].key), let shorthand = spec.shorthand,
               primitives[0].value.scalar != nil {
                let rest = entries.filter { $0.key != spec.name }
                let written = [(key: shorthand, keyNode: primitives[0].value, value: primitives[0].value)] + rest
                let inputs = readInputs(node, spec: spec, owner: what, references: &references, &source, written: written)
                return .primitive(NestedPrimitive(name: spec.name, inputs: inputs, location: source.location(primitives[0].keyNode)))
            }
            guard entries.count == 1 else {
                source.error(node, "\(what) takes exactly one primitive, such as {shell: {command: ...}} or {check: NAME, status: healthy}")
                return nil
            }
            let (name, keyNode, body) = entries[0]
            guard let spec = catalog.spec(named: name) else {
                source.error(keyNode, "unknown primitive '\(name)'\(Suggestion.hint(for: name, in: catalog.primitiveNames))")
                return nil
            }
            let inputs = readInputs(body, spec: spec, owner: what, references: &references, &source)
            return .primitive(NestedPrimitive(name: name, inputs: inputs, location: source.location(keyNode)))
        case .stringList:
            if let items = node.sequence {
                return .list(items.compactMap { readScalar($0, input: input, type: .string, what: what, &source) }, source.location(node))
            }
            return readScalar(node, input: input, type: .string, what: what, &source).map { .list([$0], source.location(node)) }
        case .stringMap:
            guard let entries = source.entries(node, what: what) else { return nil }
            return .map(entries.compactMap { key, _, value in
                readScalar(value, input: input, type: .string, what: "'\(key)' in \(what)", &source).map { InputEntry(key: key, value: $0) }
            }, source.location(node))
        case .any:
            return readAny(node, input: input, what: what, &source)
        default:
            return readScalar(node, input: input, type: input.type, what: what, &source)
        }
    }

    private func readAny(_ node: Node, input: InputSpec, what: String, _ source: inout YAMLSource) -> InputValue? {
        if let items = node.sequence {
            return .list(items.compactMap { readAny($0, input: input, what: what, &source) }, source.location(node))
        }
        if node.mapping != nil {
            guard let entries = source.entries(node, what: what) else { return nil }
            return .map(entries.compactMap { key, _, value in readAny(value, input: input, what: what, &source).map { InputEntry(key: key, value: $0) } }, source.location(node))
        }
        return readScalar(node, input: input, type: .any, what: what, &source)
    }

    private func readScalar(_ node: Node, input: InputSpec, type: InputType, what: String, _ source: inout YAMLSource) -> InputValue? {
        guard let scalar = node.scalar else {
            source.error(node, "\(what) must be \(type.noun)")
            return nil
        }
        let location = source.location(node)
        if scalar.string.contains("${{") {
            guard input.allowsTemplates else {
                source.error(node, "\(what) does not take ${{ }} expressions: \(input.instead)")
                return nil
            }
            do {
                return .template(try Template.parse(scalar.string), source.textLocation(node))
            } catch {
                source.error(source.location(in: node, offset: error.offset), error.message)
                return nil
            }
        }
        let literal = YAMLSource.literal(node)
        switch type {
        case .int:
            guard case .number(let number) = literal, number.rounded() == number else { source.error(node, "\(what) must be a whole number, not '\(scalar.string)'"); return nil }
        case .number:
            guard case .number = literal else { source.error(node, "\(what) must be a number, not '\(scalar.string)'"); return nil }
        case .bool:
            guard case .bool = literal else { source.error(node, "\(what) must be true or false, not '\(scalar.string)'"); return nil }
        case .duration:
            guard let duration = DurationText.parse(scalar.string) else {
                source.error(node, "'\(scalar.string)' is not a duration for \(what): write it like 30s, 5m, 1h30m or 7d")
                return nil
            }
            return .literal(.duration(duration), location)
        case .size:
            guard let bytes = ByteSize.parse(scalar.string) else {
                source.error(node, "'\(scalar.string)' is not a size for \(what): write it like 500MB or 1GB")
                return nil
            }
            return .literal(.number(Double(bytes)), location)
        case .string:
            return .template(Template(literal: scalar.string), location)
        default:
            break
        }
        if case .string(let text) = literal { return .template(Template(literal: text), location) }
        return .literal(literal, location)
    }

    // MARK: References

    private func checkReferences(steps: [Step], params: [ParamSpec], _ source: inout YAMLSource) {
        let paramNames = params.map(\.name)
        let firstIndex = Dictionary(steps.enumerated().map { ($1.id, $0) }, uniquingKeysWith: { first, _ in first })
        for (index, step) in steps.enumerated() {
            // `wait_until` with `until` offers the polled primitive's outputs to its condition as poll.NAME.
            let polls = step.primitive == "wait_until" && step.inputs["until"] != nil
            var references: [(Reference, SourceLocation, Bool)] = step.inputs.entries.flatMap { entry in
                entry.value.references.map { ($0.0, $0.1, polls && entry.key == "condition") }
            }
            if let when = step.when { references += when.expression.references.map { ($0, when.location, false) } }
            for (reference, location, pollAllowed) in references {
                let at = location.advanced(by: reference.offset)
                let path = reference.path
                switch path[0] {
                case "poll" where pollAllowed:
                    if path.count != 2 { source.error(at, "'\(reference)' should be poll.NAME, an output of the polled primitive") }
                case "params":
                    guard path.count == 2 else { source.error(at, "'\(reference)' should be params.NAME"); continue }
                    if !paramNames.contains(path[1]) {
                        source.error(at, "undefined parameter '\(path[1])'\(Suggestion.hint(for: path[1], in: paramNames)): declare it under params:")
                    }
                case "steps":
                    guard path.count >= 3 else { source.error(at, "'\(reference)' should be steps.ID.outputs.NAME or steps.ID.status"); continue }
                    guard let target = firstIndex[path[1]] else {
                        source.error(at, "undefined step '\(path[1])'\(Suggestion.hint(for: path[1], in: steps.map(\.id)))")
                        continue
                    }
                    if target == index { source.error(at, "step '\(step.id)' cannot read its own \(path[2]) in its inputs or condition"); continue }
                    if target > index { source.error(at, "step '\(path[1])' runs after '\(step.id)': a step can only read steps before it"); continue }
                    let targetStep = steps[target]
                    switch (path[2], path.count) {
                    case ("status", 3): break
                    case ("outputs", 4):
                        let available = (catalog.spec(named: targetStep.primitive)?.outputs ?? []) + targetStep.outputs
                        if !available.contains(path[3]) {
                            source.error(at, "step '\(path[1])' has no output '\(path[3])'\(Suggestion.hint(for: path[3], in: available)); it has \(available.isEmpty ? "none" : available.joined(separator: ", ")) (declare more with outputs:)")
                        }
                    default:
                        source.error(at, "'\(reference)' should be steps.ID.outputs.NAME or steps.ID.status")
                    }
                case "env":
                    if path.count != 2 { source.error(at, "'\(reference)' should be env.NAME") }
                case "run":
                    if path.count != 2 || !["id", "runbook", "trigger"].contains(path[1]) {
                        source.error(at, "'\(reference)' is not known: use run.id, run.runbook or run.trigger")
                    }
                default:
                    let extra = path[0] == "poll" ? " (poll. is for the condition of a wait_until that has until:)" : ""
                    source.error(at, "undefined name '\(reference)': references start with params., steps., env. or run.\(extra)")
                }
            }
        }
    }
}
