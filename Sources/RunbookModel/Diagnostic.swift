import Foundation

/// One problem found in a source file, with where it is and what to do about it.
public struct Diagnostic: Sendable, Hashable, CustomStringConvertible {
    public var location: SourceLocation
    public var message: String
    /// The text of the offending line, shown under the message with a caret.
    public var sourceLine: String?

    public init(_ location: SourceLocation, _ message: String, sourceLine: String? = nil) {
        self.location = location
        self.message = message
        self.sourceLine = sourceLine
    }

    /// Diagnostics of one file by line and column, those at one place in the order found.
    public static func inFileOrder(_ diagnostics: [Diagnostic]) -> [Diagnostic] {
        diagnostics.enumerated().sorted {
            ($0.element.location.line, $0.element.location.column, $0.offset) < ($1.element.location.line, $1.element.location.column, $1.offset)
        }.map(\.element)
    }

    /// A diagnostic whose source line is read from its file.
    public static func reading(_ location: SourceLocation, _ message: String) -> Diagnostic {
        let text = FileManager.default.contents(atPath: location.file).map { String(decoding: $0, as: UTF8.self) }
        let lines = text?.split(separator: "\n", omittingEmptySubsequences: false) ?? []
        let line = location.line >= 1 && location.line <= lines.count ? String(lines[location.line - 1]) : nil
        return Diagnostic(location, message, sourceLine: line)
    }

    /// `file:line:column: error: message`, then the line and a caret under the column.
    public var description: String {
        var text = "\(location): error: \(message)"
        if let sourceLine {
            let caretPadding = String(sourceLine.prefix(max(0, location.column - 1)).map { $0 == "\t" ? "\t" : " " })
            text += "\n\(sourceLine)\n\(caretPadding)^"
        }
        return text
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
