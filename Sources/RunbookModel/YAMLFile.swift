import Foundation

/// Reads a YAML file within `YAMLLimits.fileSize`.
public enum YAMLFile {
    /// The text of `path`. A file larger than the limit is refused before it is read (a pipe or
    /// device is read up to the limit and refused past it); `unreadable` is the error when the
    /// file cannot be opened.
    public static func read(_ path: String, unreadable: String) throws(ValidationFailure) -> String {
        let start = SourceLocation(file: path, line: 1, column: 1)
        guard let handle = FileHandle(forReadingAtPath: path) else { throw ValidationFailure([Diagnostic(start, unreadable)]) }
        defer { try? handle.close() }
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        if size > YAMLLimits.fileSize { throw ValidationFailure([Diagnostic(start, tooLarge(size: "\(size) bytes"))]) }
        // At the end of the file `read` gives nil: an empty file is empty text.
        guard let data = try? handle.read(upToCount: YAMLLimits.fileSize + 1) ?? Data() else { throw ValidationFailure([Diagnostic(start, unreadable)]) }
        if data.count > YAMLLimits.fileSize { throw ValidationFailure([Diagnostic(start, tooLarge(size: "more than \(YAMLLimits.fileSize) bytes"))]) }
        return String(decoding: data, as: UTF8.self)
    }

    static func tooLarge(size: String) -> String {
        "the file is \(size), over the limit of \(YAMLLimits.fileSizeText) for a YAML file, so it was not read: split it into smaller files"
    }
}
