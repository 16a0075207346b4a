import Foundation
import RunbookModel

#if canImport(Glibc)
import Glibc
#endif

/// Files of one folder chosen by name patterns, age and size, as `archive` and `prune` pick them.
public struct FileSelection: Sendable {
    public struct File: Sendable, Equatable {
        public var name: String
        public var path: String
        public var size: Int64
        public var modified: Date
    }

    public var folder: String
    public var patterns: [String]
    public var olderThan: Duration?
    public var largerThan: Int64?
    /// With both filters: `any` picks files that pass either one, `all` files that pass both.
    public var matchAll: Bool

    public init(folder: String, patterns: [String], olderThan: Duration?, largerThan: Int64?, matchAll: Bool) {
        self.folder = folder
        self.patterns = patterns
        self.olderThan = olderThan
        self.largerThan = largerThan
        self.matchAll = matchAll
    }

    /// Reads the filter inputs shared by file primitives (`patterns`, `older_than`, `larger_than`, `match`).
    public static let inputs: [InputSpec] = [
        InputSpec("patterns", .stringList),
        InputSpec("older_than", .duration),
        InputSpec("larger_than", .size),
        InputSpec("match", .string),
    ]

    public init(folder: String, inputs: ResolvedInputs) throws(StepInputError) {
        let match = inputs.string("match", default: "any")
        guard match == "any" || match == "all" else { throw StepInputError("match is '\(match)': use any or all") }
        self.init(
            folder: folder, patterns: inputs.strings("patterns", default: ["*"]), olderThan: try inputs.optionalDuration("older_than"),
            largerThan: try inputs.size("larger_than"), matchAll: match == "all"
        )
    }

    /// Regular files of the folder whose names match a pattern and which pass the filters, oldest first.
    public func files(at now: Date = Date()) throws -> [File] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: folder)
        } catch {
            throw StepFailure("cannot list \(folder): check that the folder exists and is readable")
        }
        var files: [File] = []
        for name in names where patterns.contains(where: { fnmatch($0, name, 0) == 0 }) {
            let path = (folder as NSString).appendingPathComponent(name)
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
                  attributes[.type] as? FileAttributeType == .typeRegular
            else { continue }
            let file = File(
                name: name, path: path, size: (attributes[.size] as? NSNumber)?.int64Value ?? 0,
                modified: attributes[.modificationDate] as? Date ?? now
            )
            if passes(file, now: now) { files.append(file) }
        }
        return files.sorted { ($0.modified, $0.name) < ($1.modified, $1.name) }
    }

    private func passes(_ file: File, now: Date) -> Bool {
        var results: [Bool] = []
        if let olderThan { results.append(now.timeIntervalSince(file.modified) > olderThan.seconds) }
        if let largerThan { results.append(file.size > largerThan) }
        if results.isEmpty { return true }
        return matchAll ? results.allSatisfy { $0 } : results.contains(true)
    }

    /// "files named *.jsonl older than 7d or larger than 1GB" for plans.
    public var summary: String {
        var filters: [String] = []
        if let olderThan { filters.append("older than \(DurationText.format(olderThan))") }
        if let largerThan { filters.append("larger than \(largerThan) bytes") }
        let filter = filters.isEmpty ? "" : " " + filters.joined(separator: matchAll ? " and " : " or ")
        return "files named \(patterns.joined(separator: ", "))\(filter) in \(folder)"
    }
}
