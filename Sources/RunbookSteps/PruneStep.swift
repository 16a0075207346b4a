import Foundation
import RunbookModel

/// Deletes files older than a time, or all but the newest N, or both.
public struct PruneStep: StepPrimitive {
    public static let spec = PrimitiveSpec(
        name: "prune",
        summary: "delete files older than a time or beyond the newest N",
        inputs: [
            InputSpec("path", .string, required: true),
            InputSpec("patterns", .stringList),
            InputSpec("older_than", .duration),
            InputSpec("keep_last", .int),
        ],
        outputs: ["deleted", "bytes"]
    )

    public var path: String
    public var patterns: [String]
    public var olderThan: Duration?
    public var keepLast: Int?

    public init(inputs: ResolvedInputs) throws(StepInputError) {
        path = try inputs.string("path")
        patterns = inputs.strings("patterns", default: ["*"])
        olderThan = try inputs.optionalDuration("older_than")
        keepLast = inputs.has("keep_last") ? try inputs.int("keep_last") : nil
        guard olderThan != nil || keepLast != nil else {
            throw StepInputError("prune needs older_than, keep_last or both, so that it never deletes everything by accident")
        }
        if let keepLast, keepLast < 0 { throw StepInputError("keep_last is \(keepLast): use 0 or more") }
    }

    /// The files to delete: past the age, or older than the newest `keep_last`.
    func victims(in folder: String) throws -> [FileSelection.File] {
        let all = try FileSelection(folder: folder, patterns: patterns, olderThan: nil, largerThan: nil, matchAll: false).files()
        let cutoff = olderThan.map { Date().addingTimeInterval(-$0.seconds) }
        let beyondKept = keepLast.map { Set(all.dropLast($0).map(\.path)) }
        return all.filter { file in
            (cutoff.map { file.modified < $0 } ?? false) || (beyondKept?.contains(file.path) ?? false)
        }
    }

    public func describe() -> String {
        var rules: [String] = []
        if let olderThan { rules.append("older than \(DurationText.format(olderThan))") }
        if let keepLast { rules.append("beyond the newest \(keepLast)") }
        let count = (try? victims(in: path).count).map { " (now: \($0) file(s))" } ?? ""
        return "delete files named \(patterns.joined(separator: ", ")) in \(path) \(rules.joined(separator: " or "))\(count)"
    }

    public func run(in context: StepContext) async throws -> StepResult {
        let folder = context.resolvePath(path)
        guard FileManager.default.fileExists(atPath: folder) else {
            return StepResult(outputs: ["deleted": .number(0), "bytes": .number(0)], output: "nothing to prune: \(folder) does not exist")
        }
        let files = try victims(in: folder)
        for (index, file) in files.enumerated() {
            do { try FileManager.default.removeItem(atPath: file.path) } catch {
                let done = files.prefix(index)
                throw StepFailure(
                    "cannot delete \(file.path): \(error.localizedDescription)",
                    outputs: ["deleted": .number(Double(done.count)), "bytes": .number(Double(done.reduce(0) { $0 + $1.size }))]
                )
            }
        }
        let bytes = files.reduce(0) { $0 + $1.size }
        return StepResult(
            outputs: ["deleted": .number(Double(files.count)), "bytes": .number(Double(bytes))],
            output: files.isEmpty ? "nothing to prune in \(folder)" : "deleted \(files.count) file(s), \(bytes) bytes: " + files.map(\.name).joined(separator: ", ")
        )
    }
}
