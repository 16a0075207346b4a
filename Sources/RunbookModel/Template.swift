/// Text with `${{ expression }}` parts, resolved when a step runs.
public struct Template: Sendable, Hashable {
    public enum Part: Sendable, Hashable {
        case text(String)
        /// An expression with its column offset inside the template text.
        case expression(Expression, offset: Int)
    }

    public var parts: [Part]

    public init(parts: [Part]) {
        self.parts = parts
    }

    /// A template with no expressions.
    public init(literal: String) {
        self.parts = [.text(literal)]
    }

    public var hasExpressions: Bool {
        parts.contains { if case .expression = $0 { return true } else { return false } }
    }

    public var references: [Reference] {
        parts.flatMap { part -> [Reference] in
            guard case .expression(let expression, let offset) = part else { return [] }
            return expression.references.map { Reference(path: $0.path, offset: $0.offset + offset) }
        }
    }

    /// Parses `text`; a syntax error carries its column offset inside `text`.
    public static func parse(_ text: String) throws(ExpressionParser.SyntaxError) -> Template {
        var parts: [Part] = []
        var rest = Substring(text)
        while let open = rest.range(of: "${{") {
            if open.lowerBound > rest.startIndex { parts.append(.text(String(rest[..<open.lowerBound]))) }
            let bodyStart = open.upperBound
            let offset = text.distance(from: text.startIndex, to: bodyStart)
            guard let close = rest[bodyStart...].range(of: "}}") else {
                throw ExpressionParser.SyntaxError(offset: offset - 3, message: "'${{' is not closed: add '}}'")
            }
            let body = String(rest[bodyStart..<close.lowerBound])
            do {
                parts.append(.expression(try ExpressionParser.parse(body), offset: offset))
            } catch {
                throw ExpressionParser.SyntaxError(offset: offset + error.offset, message: error.message)
            }
            rest = rest[close.upperBound...]
        }
        if !rest.isEmpty { parts.append(.text(String(rest))) }
        return Template(parts: parts)
    }

    /// The value of the template: a lone expression keeps its type, anything else becomes text.
    public func resolve(with evaluator: ExpressionEvaluator) throws(ExpressionEvaluator.EvaluationError) -> Value {
        if parts.count == 1, case .expression(let expression, _) = parts[0] {
            return try evaluator.evaluate(expression)
        }
        var text = ""
        for part in parts {
            switch part {
            case .text(let literal): text += literal
            case .expression(let expression, _): text += try evaluator.evaluate(expression).text
            }
        }
        return .string(text)
    }

    /// The template's text with each expression shown as written, for dry-run plans.
    public var literalText: String? {
        guard !hasExpressions else { return nil }
        return parts.map { if case .text(let t) = $0 { return t } else { return "" } }.joined()
    }
}
