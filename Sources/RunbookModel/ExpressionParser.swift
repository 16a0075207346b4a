/// Parses the expression language of conditions and templates.
///
/// Grammar, loosest first: `or`/`||`, `and`/`&&`, `not`/`!`, comparisons (`== != < <= > >=`),
/// `+ -`, `* /`, unary `-`, then literals (numbers, `'strings'` or `"strings"`, durations such as
/// `5m`, `true`, `false`, `null`), dotted references and parentheses.
public struct ExpressionParser {
    /// A syntax error at a column offset (0-based) inside the expression text.
    public struct SyntaxError: Error, Sendable, Equatable {
        public var offset: Int
        public var message: String
    }

    private enum Token: Equatable {
        case number(Double)
        case duration(Duration)
        case string(String)
        case name([String])
        case symbol(String)
        case end
    }

    private var tokens: [(token: Token, offset: Int)] = []
    private var index = 0

    public static func parse(_ text: String) throws(SyntaxError) -> Expression {
        var parser = ExpressionParser()
        parser.tokens = try tokenize(text)
        let expression = try parser.parseOr()
        guard case .end = parser.current.token else {
            throw SyntaxError(offset: parser.current.offset, message: "unexpected \(parser.describe(parser.current.token)) in expression")
        }
        return expression
    }

    private var current: (token: Token, offset: Int) { tokens[index] }

    private mutating func advance() { if index < tokens.count - 1 { index += 1 } }

    private mutating func accept(_ symbol: String) -> Bool {
        if current.token == .symbol(symbol) { advance(); return true }
        return false
    }

    private mutating func acceptKeyword(_ word: String) -> Bool {
        if current.token == .name([word]) { advance(); return true }
        return false
    }

    private mutating func parseOr() throws(SyntaxError) -> Expression {
        var lhs = try parseAnd()
        while accept("||") || acceptKeyword("or") { lhs = .binary(.or, lhs, try parseAnd()) }
        return lhs
    }

    private mutating func parseAnd() throws(SyntaxError) -> Expression {
        var lhs = try parseNot()
        while accept("&&") || acceptKeyword("and") { lhs = .binary(.and, lhs, try parseNot()) }
        return lhs
    }

    private mutating func parseNot() throws(SyntaxError) -> Expression {
        if accept("!") || acceptKeyword("not") { return .not(try parseNot()) }
        return try parseComparison()
    }

    private mutating func parseComparison() throws(SyntaxError) -> Expression {
        let lhs = try parseAdditive()
        for op in [BinaryOperator.equal, .notEqual, .lessOrEqual, .greaterOrEqual, .less, .greater] where accept(op.rawValue) {
            return .binary(op, lhs, try parseAdditive())
        }
        return lhs
    }

    private mutating func parseAdditive() throws(SyntaxError) -> Expression {
        var lhs = try parseMultiplicative()
        while true {
            if accept("+") { lhs = .binary(.add, lhs, try parseMultiplicative()) }
            else if accept("-") { lhs = .binary(.subtract, lhs, try parseMultiplicative()) }
            else { return lhs }
        }
    }

    private mutating func parseMultiplicative() throws(SyntaxError) -> Expression {
        var lhs = try parseUnary()
        while true {
            if accept("*") { lhs = .binary(.multiply, lhs, try parseUnary()) }
            else if accept("/") { lhs = .binary(.divide, lhs, try parseUnary()) }
            else { return lhs }
        }
    }

    private mutating func parseUnary() throws(SyntaxError) -> Expression {
        if accept("-") { return .negate(try parseUnary()) }
        return try parsePrimary()
    }

    private mutating func parsePrimary() throws(SyntaxError) -> Expression {
        let (token, offset) = current
        switch token {
        case .number(let number): advance(); return .literal(.number(number))
        case .duration(let duration): advance(); return .literal(.duration(duration))
        case .string(let string): advance(); return .literal(.string(string))
        case .name(let path):
            advance()
            if path.count == 1 {
                switch path[0] {
                case "true": return .literal(.bool(true))
                case "false": return .literal(.bool(false))
                case "null": return .literal(.null)
                case "and", "or", "not":
                    throw SyntaxError(offset: offset, message: "'\(path[0])' needs a value before and after it")
                default: break
                }
            }
            return .reference(Reference(path: path, offset: offset))
        case .symbol("("):
            advance()
            let inner = try parseOr()
            guard accept(")") else { throw SyntaxError(offset: current.offset, message: "expected ')' to close the '(' at column \(offset + 1)") }
            return inner
        case .end:
            throw SyntaxError(offset: offset, message: "expression ends where a value was expected")
        case .symbol:
            throw SyntaxError(offset: offset, message: "unexpected \(describe(token)) where a value was expected")
        }
    }

    private func describe(_ token: Token) -> String {
        switch token {
        case .number(let number): return "number \(Value.format(number))"
        case .duration(let duration): return "duration \(DurationText.format(duration))"
        case .string(let string): return "string '\(string)'"
        case .name(let path): return "name '\(path.joined(separator: "."))'"
        case .symbol(let symbol): return "'\(symbol)'"
        case .end: return "end of expression"
        }
    }

    private static func tokenize(_ text: String) throws(SyntaxError) -> [(token: Token, offset: Int)] {
        let characters = Array(text)
        var tokens: [(token: Token, offset: Int)] = []
        var position = 0
        func isNameStart(_ c: Character) -> Bool { c.isLetter || c == "_" }
        func isNamePart(_ c: Character) -> Bool { c.isLetter || c.isNumber || c == "_" }
        while position < characters.count {
            let c = characters[position]
            let start = position
            if c.isWhitespace { position += 1; continue }
            if c.isNumber {
                while position < characters.count, characters[position].isNumber || characters[position] == "." { position += 1 }
                let number = String(characters[start..<position])
                if position < characters.count, characters[position].isLetter {
                    while position < characters.count, characters[position].isLetter || characters[position].isNumber || characters[position] == "." { position += 1 }
                    let word = String(characters[start..<position])
                    guard let duration = DurationText.parse(word) else {
                        throw SyntaxError(offset: start, message: "'\(word)' is not a number or a duration (units: ms, s, m, h, d, w)")
                    }
                    tokens.append((.duration(duration), start))
                } else {
                    guard let value = Double(number) else { throw SyntaxError(offset: start, message: "'\(number)' is not a number") }
                    tokens.append((.number(value), start))
                }
                continue
            }
            if c == "'" || c == "\"" {
                position += 1
                var string = ""
                while true {
                    guard position < characters.count else { throw SyntaxError(offset: start, message: "string is not closed: add \(c)") }
                    let d = characters[position]
                    position += 1
                    if d == c { break }
                    if d == "\\", position < characters.count {
                        let escaped = characters[position]
                        position += 1
                        string.append(escaped == "n" ? "\n" : escaped == "t" ? "\t" : escaped)
                    } else {
                        string.append(d)
                    }
                }
                tokens.append((.string(string), start))
                continue
            }
            if isNameStart(c) {
                var path: [String] = []
                while true {
                    let partStart = position
                    while position < characters.count, isNamePart(characters[position]) { position += 1 }
                    guard position > partStart else { throw SyntaxError(offset: partStart, message: "a name is missing after '.'") }
                    path.append(String(characters[partStart..<position]))
                    guard position < characters.count, characters[position] == "." else { break }
                    position += 1
                }
                tokens.append((.name(path), start))
                continue
            }
            let two = position + 1 < characters.count ? String(characters[position...position + 1]) : ""
            if ["==", "!=", "<=", ">=", "&&", "||"].contains(two) {
                tokens.append((.symbol(two), start))
                position += 2
                continue
            }
            if "<>!+-*/()".contains(c) {
                tokens.append((.symbol(String(c)), start))
                position += 1
                continue
            }
            if c == "=" { throw SyntaxError(offset: start, message: "'=' is not an operator: use '==' to compare") }
            throw SyntaxError(offset: start, message: "unexpected character '\(c)' in expression")
        }
        tokens.append((.end, characters.count))
        return tokens
    }
}
