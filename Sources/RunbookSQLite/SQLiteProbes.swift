import Foundation
import GRDB
import RunbookChecks
import RunbookModel
import RunbookSteps

/// A SQLite database opens, answers, and passes `PRAGMA quick_check`. Value: problems found.
public struct SQLiteProbe: Probe {
    public static let spec = ProbeSpec(
        name: "sqlite", summary: "a SQLite database opens and passes quick_check (value: problems)",
        inputs: [InputSpec("path", .string)], unit: .count, critical: Threshold(.above, 0), shorthand: "path"
    )

    public var path: String?

    public init(inputs: [String: Value]) throws(ProbeInputError) {
        path = inputs.text("path")
    }

    public func read(in environment: EngineServices) async throws -> ProbeReading {
        guard let file = path.map(environment.resolvePath) ?? environment.databasePath else {
            throw ProbeFailure("sqlite has no database to look at: give `path:` in the check")
        }
        guard FileManager.default.fileExists(atPath: file) else { return ProbeReading(value: 1, text: "\(file) does not exist", subject: file) }
        do {
            let problems = try await readOnce(file) { db in try String.fetchAll(db, sql: "PRAGMA quick_check") }.filter { $0 != "ok" }
            return ProbeReading(
                value: Double(problems.count), text: problems.isEmpty ? "reachable, quick_check ok" : "quick_check: \(problems.prefix(3).joined(separator: "; "))",
                subject: (file as NSString).lastPathComponent
            )
        } catch {
            return ProbeReading(value: 1, text: "cannot read \(file): \(error)", subject: (file as NSString).lastPathComponent)
        }
    }
}

/// The first column of the first row of a read-only query. Value: that number.
public struct SQLValueProbe: Probe {
    public static let spec = ProbeSpec(
        name: "sql", summary: "a number from a read-only query (value: the first column of the first row)",
        inputs: [InputSpec("query", .string, required: true), InputSpec("database", .string)], unit: .number, shorthand: "query"
    )

    public var query: String
    public var database: String?

    public init(inputs: [String: Value]) throws(ProbeInputError) {
        query = inputs.text("query") ?? ""
        database = inputs.text("database")
        guard !query.isEmpty else { throw ProbeInputError("sql needs a query") }
    }

    public func read(in environment: EngineServices) async throws -> ProbeReading {
        guard let file = database.map(environment.resolvePath) ?? environment.databasePath else {
            throw ProbeFailure("sql has no database to query: give `database:` in the check")
        }
        let value: Double?
        do {
            value = try await readOnce(file) { db in try Double.fetchOne(db, sql: query) }
        } catch {
            throw ProbeFailure("query on \(file) failed: \(error)")
        }
        guard let value else { return ProbeReading(value: nil, text: "the query returned no number", status: .unknown) }
        return ProbeReading(value: value, text: Int64(exactly: value).map(String.init) ?? String(format: "%.3f", value))
    }
}

/// One read of a database opened read-only for it, waiting at most 2 s for a writer's lock.
func readOnce<T: Sendable>(_ file: String, _ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
    var configuration = Configuration()
    configuration.readonly = true
    configuration.busyMode = .timeout(2)
    let queue = try DatabaseQueue(path: file, configuration: configuration)
    defer { try? queue.close() }
    return try await queue.read(body)
}

extension ProbeRegistry {
    /// The probes that read SQLite databases.
    public static let sqlite = ProbeRegistry([SQLiteProbe.self, SQLValueProbe.self])
}
