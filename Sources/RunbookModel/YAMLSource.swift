import Foundation
import Yams

/// A YAML file being read: turns node marks into locations and collects diagnostics.
struct YAMLSource {
    let file: String
    let text: String
    private let lines: [Substring]
    private(set) var diagnostics: [Diagnostic] = []
    /// Secrets found written in the file (`hide`), never shown in a diagnostic's source line.
    private let secrets = Secrets()

    init(file: String, text: String) {
        self.file = file
        self.text = text
        self.lines = Diagnostic.sourceLines(of: text)
    }

    func location(_ node: Node) -> SourceLocation {
        location(node.mark)
    }

    func location(_ mark: Mark?) -> SourceLocation {
        SourceLocation(file: file, line: mark?.line ?? 1, column: mark?.column ?? 1)
    }

    /// Where the text of a scalar starts: after the quote of a quoted scalar.
    func textLocation(_ node: Node) -> SourceLocation {
        let base = location(node)
        if let style = node.scalar?.style, style == .singleQuoted || style == .doubleQuoted { return base.advanced(by: 1) }
        return base
    }

    /// The location `offset` characters into a scalar's text, when that is still on its first line.
    func location(in node: Node, offset: Int) -> SourceLocation {
        guard let scalar = node.scalar, scalar.style == .plain || scalar.style == .singleQuoted || scalar.style == .doubleQuoted,
              !scalar.string.prefix(offset).contains("\n")
        else { return location(node) }
        return textLocation(node).advanced(by: offset)
    }

    mutating func error(_ location: SourceLocation, _ message: String) {
        let line = location.line - 1 < lines.count && location.line >= 1 ? String(lines[location.line - 1]) : nil
        diagnostics.append(Diagnostic(location, message, sourceLine: line.map(masked)))
    }

    mutating func error(_ node: Node, _ message: String) {
        error(location(node), message)
    }

    /// An error about a secret written where it does not belong: the secret is masked in the
    /// source line of this and of every other error, so no error prints it again.
    mutating func error(_ node: Node, _ message: String, masking secret: String) {
        hide(secret)
        error(location(node), message)
    }

    /// Masks `secret` wherever a diagnostic shows a source line, those found so far and those to come.
    mutating func hide(_ secret: String) {
        guard secrets.add(secret) else { return }
        for index in diagnostics.indices { diagnostics[index].sourceLine = diagnostics[index].sourceLine.map(masked) }
    }

    private func masked(_ line: String) -> String {
        secrets.mask(line)
    }

    /// Parses the text into a node tree, or records the parser's error.
    mutating func compose() -> Node? {
        do {
            return try composeWithinLimits()
        } catch let error as YamlError {
            switch error {
            case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
                self.error(location(mark), "YAML syntax: \(problem)")
            case .duplicatedKeysInMapping(let duplicates, let context):
                self.error(location(context.mark), "duplicate key \(duplicates.map { "'\($0)'" }.joined(separator: ", ")) in this mapping: keep one")
            case .reader(let problem, _, _, _):
                self.error(SourceLocation(file: file, line: 1, column: 1), "cannot read the file as YAML: \(problem)")
            default:
                self.error(SourceLocation(file: file, line: 1, column: 1), "cannot read the file as YAML: \(error)")
            }
        } catch {
            self.error(SourceLocation(file: file, line: 1, column: 1), "cannot read the file as YAML: \(error)")
        }
        return nil
    }

    /// A mapping's entries with string keys; reports non-string keys.
    mutating func entries(_ node: Node, what: String) -> [(key: String, keyNode: Node, value: Node)]? {
        guard let mapping = node.mapping else {
            error(node, "\(what) must be a mapping of keys to values")
            return nil
        }
        var result: [(key: String, keyNode: Node, value: Node)] = []
        for (key, value) in mapping {
            guard let name = key.scalar?.string else {
                error(key, "keys of \(what) must be plain names")
                continue
            }
            result.append((name, key, value))
        }
        return result
    }

    /// Reports every key not in `allowed`, with a suggestion.
    mutating func rejectUnknownKeys(_ entries: [(key: String, keyNode: Node, value: Node)], allowed: [String], in what: String) {
        for entry in entries where !allowed.contains(entry.key) {
            error(entry.keyNode, "unknown key '\(entry.key)' in \(what)\(Suggestion.hint(for: entry.key, in: allowed)); allowed: \(allowed.joined(separator: ", "))")
        }
    }

    mutating func string(_ node: Node, what: String) -> String? {
        guard let scalar = node.scalar else {
            error(node, "\(what) must be text, not a \(node.mapping != nil ? "mapping" : "list")")
            return nil
        }
        return scalar.string
    }

    mutating func duration(_ node: Node, what: String) -> Duration? {
        guard let text = string(node, what: what) else { return nil }
        guard let duration = DurationText.parse(text) else {
            error(node, "'\(text)' is not a duration for \(what): write it like 30s, 5m, 1h30m or 7d")
            return nil
        }
        return duration
    }

    mutating func integer(_ node: Node, what: String, range: ClosedRange<Int>) -> Int? {
        guard let text = string(node, what: what) else { return nil }
        guard let number = Int(text), range.contains(number) else {
            error(node, "'\(text)' is not valid for \(what): write a whole number from \(range.lowerBound) to \(range.upperBound)")
            return nil
        }
        return number
    }

    /// A literal value as YAML resolves a plain scalar; quoted text stays text.
    static func literal(_ node: Node) -> Value {
        guard let scalar = node.scalar else { return .null }
        guard scalar.style == .plain else { return .string(scalar.string) }
        if node.null != nil { return .null }
        if let flag = node.bool { return .bool(flag) }
        if let number = node.int { return .number(Double(number)) }
        if let number = node.float { return .number(number) }
        return .string(scalar.string)
    }
}
