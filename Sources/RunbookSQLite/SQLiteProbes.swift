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
        name: "sql", summary: "a number from a read-only query on a SQLite file or a PostgreSQL server (value: the first column of the first row)",
        inputs: [InputSpec("query", .string, required: true), InputSpec("database", .string), InputSpec("url_env", .string)], unit: .number, shorthand: "query"
    )

    public var query: String
    /// A SQLite file or a PostgreSQL URL; the records database when neither it nor `url_env` is given.
    public var database: String?
    /// An environment variable holding a PostgreSQL URL.
    public var urlEnvironment: String?

    public init(inputs: [String: Value]) throws(ProbeInputError) {
        query = inputs.text("query") ?? ""
        database = inputs.text("database")
        urlEnvironment = inputs.text("url_env")
        guard !query.isEmpty else { throw ProbeInputError("sql needs a query") }
        guard database == nil || urlEnvironment == nil else { throw ProbeInputError("sql takes database or url_env, not both") }
    }

    public func read(in environment: EngineServices) async throws -> ProbeReading {
        var url = database.flatMap { $0.contains("://") ? $0 : nil }
        if let name = urlEnvironment {
            guard let text = ProcessInfo.processInfo.environment[name], !text.isEmpty else {
                throw ProbeFailure("url_env names \(name), which is not set: export it as postgresql://USER:PASSWORD@HOST:PORT/DATABASE")
            }
            url = text
        }
        let value: Double?
        if let url {
            guard let servers = environment.sqlServers, servers.handles(url) else {
                throw ProbeFailure("\(url.maskingURLPasswords) is not a database this probe reaches: give a SQLite file or a postgresql:// URL")
            }
            do {
                value = try await servers.query(url, sql: query, binds: [], readonly: true).rows.first?.first.flatMap { cell in
                    if case .number(let number) = cell { return number }
                    if case .string(let text) = cell { return Double(text) }
                    return nil
                }
            } catch {
                throw ProbeFailure("query failed: \(error)".maskingURLPasswords)
            }
        } else {
            guard let file = database.map(environment.resolvePath) ?? environment.databasePath else {
                throw ProbeFailure("sql has no database to query: give `database:` in the check")
            }
            do {
                value = try await readOnce(file) { db in try Double.fetchOne(db, sql: query) }
            } catch {
                throw ProbeFailure("query on \(file) failed: \(error)")
            }
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
