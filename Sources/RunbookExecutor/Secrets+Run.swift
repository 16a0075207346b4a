import RunbookModel

extension Secrets {
    /// Adds the values of `runbook`'s secret parameters, and the password of any URL a parameter holds.
    func addSecretParams(of runbook: Runbook, _ params: [String: Value]) {
        for param in runbook.params where param.secret {
            if let value = params[param.name] { add(value.text) }
        }
        for value in params.values { addURLPasswords(in: value.text) }
    }

    /// Parameters as they may be recorded: a secret one as `***`, any other with the secrets in it masked.
    func recordable(_ params: [String: Value], of runbook: Runbook) -> [String: String] {
        params.reduce(into: [:]) { recorded, param in
            recorded[param.key] = runbook.param(named: param.key)?.secret == true ? Self.mask : mask(param.value.text)
        }
    }

    /// Adds the password of every URL the inputs hold, and the result of every expression of
    /// `inputs` that reads a value holding a secret:
    /// `${{ params.pin + 1 }}` shows nothing of the pin's text, yet is as secret. A true or false
    /// is left out: it tells one bit, and masking every "true" would garble every record.
    func addDerived(from inputs: Inputs, with evaluator: ExpressionEvaluator) {
        for entry in inputs.entries { addDerived(from: entry.value, with: evaluator) }
    }

    private func addDerived(from input: InputValue, with evaluator: ExpressionEvaluator) {
        switch input {
        case .template(let template, _):
            if let text = try? template.resolve(with: evaluator) { addURLPasswords(in: text.text) }
            for case .expression(let expression, _) in template.parts
            where expression.references.contains(where: { evaluator.resolve($0).map { reveals($0.text) } ?? false }) {
                guard let value = try? evaluator.evaluate(expression) else { continue }
                if case .bool = value { continue }
                addDerived(value.text)
            }
        case .list(let items, _):
            for item in items { addDerived(from: item, with: evaluator) }
        case .map(let entries, _):
            for entry in entries { addDerived(from: entry.value, with: evaluator) }
        case .primitive(let nested):
            addDerived(from: nested.inputs, with: evaluator)
        case .literal(let value, _):
            addURLPasswords(in: value.text)
        case .condition:
            break
        }
    }
}

extension Secrets {
    /// Outputs with every secret in their text masked, for the records.
    func masking(_ outputs: [String: Value]) -> [String: Value] {
        outputs.mapValues(masking)
    }

    private func masking(_ value: Value) -> Value {
        switch value {
        case .string(let text): .string(mask(text))
        case .list(let items): .list(items.map(masking))
        case .map(let entries): .map(entries.mapValues(masking))
        default: value
        }
    }
}
