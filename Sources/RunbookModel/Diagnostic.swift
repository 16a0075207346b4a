import Foundation

/// One problem found in a source file, with where it is and what to do about it.
public struct Diagnostic: Sendable, Hashable, CustomStringConvertible {
    public var location: SourceLocation
    public var message: String
    /// The text of the offending line, shown under the message with a caret, cut to
    /// `YAMLLimits.echo` characters around the column.
    public var sourceLine: String?

    /// A quoted piece of source text in `message` ('...') longer than `YAMLLimits.echo`
    /// characters is cut, so that an error never repeats a whole value.
    public init(_ location: SourceLocation, _ message: String, sourceLine: String? = nil) {
        self.location = location
        self.message = Self.cutQuotes(message)
        self.sourceLine = sourceLine
    }

    /// Diagnostics of one file by line and column, those at one place in the order found.
    public static func inFileOrder(_ diagnostics: [Diagnostic]) -> [Diagnostic] {
        diagnostics.enumerated().sorted {
            ($0.element.location.line, $0.element.location.column, $0.offset) < ($1.element.location.line, $1.element.location.column, $1.offset)
        }.map(\.element)
    }

    /// The lines of `text` as YAML numbers them: a line ends at a line feed, a carriage return,
    /// both together, or NEL, LS or PS, so that an error's line is the one its number names.
    public static func sourceLines(of text: String) -> [Substring] {
        text.split(omittingEmptySubsequences: false) { character in
            character == "\n" || character == "\r\n" || character == "\r" || character == "\u{85}" || character == "\u{2028}" || character == "\u{2029}"
        }
    }

    /// A diagnostic whose source line is read from its file.
    public static func reading(_ location: SourceLocation, _ message: String) -> Diagnostic {
        let text = FileManager.default.contents(atPath: location.file).map { String(decoding: $0, as: UTF8.self) }
        let lines = text.map(sourceLines(of:)) ?? []
        let line = location.line >= 1 && location.line <= lines.count ? String(lines[location.line - 1]) : nil
        return Diagnostic(location, message, sourceLine: line)
    }

    /// `file:line:column: error: message`, then the line and a caret under the column.
    public var description: String {
        var text = "\(location): error: \(message)"
        if let sourceLine {
            let (shown, column) = Self.excerpt(sourceLine, column: location.column)
            let caretPadding = String(shown.prefix(max(0, column - 1)).map { $0 == "\t" ? "\t" : " " })
            text += "\n\(shown)\n\(caretPadding)^"
        }
        return text
    }

    /// At most `YAMLLimits.echo` characters of `line` around `column`, "…" where it is cut, and
    /// where the column is in what is shown.
    static func excerpt(_ line: String, column: Int) -> (text: String, column: Int) {
        let characters = Array(line)
        let width = YAMLLimits.echo
        guard characters.count > width else { return (line, column) }
        let start = max(0, min(column - 1 - width / 2, characters.count - width))
        let end = start + width
        let text = (start > 0 ? "…" : "") + String(characters[start..<end]) + (end < characters.count ? "…" : "")
        return (text, column - start + (start > 0 ? 1 : 0))
    }

    /// `message` with each quoted piece ('...', quotes not within a word) longer than
    /// `YAMLLimits.echo` characters cut with "…".
    static func cutQuotes(_ message: String) -> String {
        let characters = Array(message)
        guard characters.count > YAMLLimits.echo else { return message }
        let isWord = { (index: Int) in characters.indices.contains(index) && (characters[index].isLetter || characters[index].isNumber) }
        // The next closing quote from each position, found in one pass so a long value with many quotes stays linear.
        var nextClose = [Int?](repeating: nil, count: characters.count + 1)
        for index in characters.indices.reversed() {
            nextClose[index] = characters[index] == "'" && !isWord(index + 1) ? index : nextClose[index + 1]
        }
        var result = ""
        var index = 0
        while index < characters.count {
            let opens = characters[index] == "'" && !isWord(index - 1)
            guard opens, let close = nextClose[index + 1] else {
                result.append(characters[index])
                index += 1
                continue
            }
            let quoted = characters[(index + 1)..<close]
            result += "'" + String(quoted.prefix(YAMLLimits.echo)) + (quoted.count > YAMLLimits.echo ? "…" : "") + "'"
            index = close + 1
        }
        return result
    }
}

/// Every problem found while loading one or more documents; nothing is loaded when there is one.
public struct ValidationFailure: Error, Sendable, CustomStringConvertible {
    public var diagnostics: [Diagnostic]

    public init(_ diagnostics: [Diagnostic]) {
        self.diagnostics = diagnostics
    }

    public var description: String {
        diagnostics.map(\.description).joined(separator: "\n")
    }
}
