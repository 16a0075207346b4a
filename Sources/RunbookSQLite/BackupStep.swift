import Foundation
import GRDB
import RunbookModel
import RunbookSteps

#if canImport(Glibc)
import Glibc
#endif


/// Copies SQLite databases with SQLite's online backup (safe while they are written), checks
/// each copy, and keeps the newest N copies of each.
public struct BackupStep: StepPrimitive {
    public static let spec = PrimitiveSpec(
        name: "backup",
        summary: "back up SQLite databases to dated files, keeping the newest N",
        inputs: [
            InputSpec("database", .stringList, required: true),
            InputSpec("to", .string, required: true),
            InputSpec("keep", .int),
        ],
        outputs: ["files", "backups", "removed"]
    )

    public var databases: [String]
    public var to: String
    public var keep: Int

    public init(inputs: ResolvedInputs) throws(StepInputError) {
        databases = inputs.strings("database")
        to = try inputs.string("to")
        keep = try inputs.int("keep", default: 8)
        guard keep >= 1 else { throw StepInputError("keep is \(keep): keep at least 1 backup") }
    }

    public func describe() -> String {
        "back up \(databases.joined(separator: ", ")) into \(to) as NAME-DATE.db, keeping the newest \(keep) of each"
    }

    public func run(in context: StepContext) async throws -> StepResult {
        let sources = databases.flatMap { Self.expand(context.resolvePath($0)) }
        guard !sources.isEmpty else {
            throw StepFailure("no database matches \(databases.joined(separator: ", ")): check the paths")
        }
        let folder = context.resolvePath(to)
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw StepFailure("cannot create the backup folder \(folder): \(error.localizedDescription)")
        }
        var made: [String] = []
        var removed = 0
        for source in sources {
            let name = ((source as NSString).lastPathComponent as NSString).deletingPathExtension
            let destination = FileStamp.unusedPath(in: folder, prefix: name, extension: "db")
            do {
                let from = try DatabaseQueue(path: source, configuration: Self.readonly)
                // A copy of the records or the ticks is as private as what it copies.
                try OwnerOnlyFile.prepare(destination)
                let copy = try DatabaseQueue(path: destination)
                try from.backup(to: copy)
                let check = try await copy.read { try String.fetchOne($0, sql: "PRAGMA quick_check") }
                try copy.close()
                guard check == "ok" else { throw StepFailure("the backup \(destination) failed its check: \(check ?? "no answer")") }
            } catch {
                // A copy that is not known good is not left where it could be taken for one.
                for suffix in ["", "-wal", "-shm"] { unlink(destination + suffix) }
                if let failure = error as? StepFailure { throw failure }
                throw StepFailure("cannot back up \(source) to \(destination): \(error)")
            }
            made.append(destination)
            removed += try prune(folder: folder, name: name)
        }
        return StepResult(
            outputs: ["files": .number(Double(made.count)), "backups": .string(made.joined(separator: "\n")), "removed": .number(Double(removed))],
            output: "backed up \(made.count) database(s): \(made.joined(separator: ", ")); removed \(removed) old backup(s)"
        )
    }

    /// `NAME-YYYYMMDD-HHMMSS.db` or `NAME-YYYYMMDD-HHMMSS-N.db`, and not a backup of `NAME-2.db`.
    public static func isBackup(_ file: String, of name: String) -> Bool {
        guard file.hasPrefix(name + "-"), file.hasSuffix(".db") else { return false }
        let parts = file.dropFirst(name.count + 1).dropLast(3).split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2 || parts.count == 3, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isNumber) }) else { return false }
        return parts[0].count == 8 && parts[1].count == 6
    }

    private static var readonly: Configuration {
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = .timeout(10)
        return configuration
    }

    /// Deletes all but the newest `keep` backups of `name`.
    private func prune(folder: String, name: String) throws -> Int {
        let backups = try FileSelection(folder: folder, patterns: ["\(name)-*.db"], olderThan: nil, largerThan: nil, matchAll: false).files()
            .filter { Self.isBackup($0.name, of: name) }
        let old = backups.dropLast(keep)
        for file in old {
            do { try FileManager.default.removeItem(atPath: file.path) } catch {
                throw StepFailure("cannot remove old backup \(file.path): \(error.localizedDescription)")
            }
        }
        return old.count
    }

    /// A path, or the files a glob pattern matches.
    private static func expand(_ path: String) -> [String] {
        guard path.contains(where: { "*?[".contains($0) }) else { return [path] }
        var result = glob_t()
        defer { globfree(&result) }
        guard glob(path, 0, nil, &result) == 0 else { return [] }
        return (0..<Int(result.gl_pathc)).compactMap { result.gl_pathv[$0].map { String(cString: $0) } }
    }
}
