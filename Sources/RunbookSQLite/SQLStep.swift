import Foundation
import GRDB
import RunbookModel
import RunbookSteps

/// Runs a SQL statement on a SQLite file with bound parameters, checks the rows it returns,
/// and offers them to later steps.
public struct SQLStep: StepPrimitive {
    public static let spec = PrimitiveSpec(
        name: "sql",
        summary: "query a SQLite file or a PostgreSQL server with bound parameters and assert on the rows",
        inputs: [
            InputSpec("database", .string),
            InputSpec("url_env", .string),
            // Values are bound with `bind`, never pasted into the statement.
            InputSpec("query", .string, required: true, allowsTemplates: false, instead: "write ? in the query and give the values in bind: [...]"),
            InputSpec("bind", .stringList),
            InputSpec("readonly", .bool),
            InputSpec("expect_rows", .int),
            InputSpec("min_rows", .int),
            InputSpec("max_rows", .int),
            InputSpec("expect_value", .string),
        ],
        outputs: ["count", "value", "rows"]
    )

    /// A SQLite file, or a PostgreSQL URL.
    public var database: String
    /// An environment variable holding a PostgreSQL URL, instead of `database`.
    public var urlEnvironment: String?
    public var query: String
    public var bind: [String]
    public var readonly: Bool
    public var expectRows: Int?
    public var minRows: Int?
    public var maxRows: Int?
    public var expectValue: String?

    public init(inputs: ResolvedInputs) throws(StepInputError) {
        database = inputs.string("database", default: "")
        urlEnvironment = inputs.has("url_env") ? try inputs.string("url_env") : nil
        guard database.isEmpty != (urlEnvironment == nil) else {
            throw StepInputError("give the database (a SQLite file or a postgresql:// URL) or url_env (a variable holding the URL), one of them")
        }
        query = try inputs.string("query")
        bind = inputs.strings("bind")
        readonly = try inputs.bool("readonly", default: false)
        expectRows = inputs.has("expect_rows") ? try inputs.int("expect_rows") : nil
        minRows = inputs.has("min_rows") ? try inputs.int("min_rows") : nil
        maxRows = inputs.has("max_rows") ? try inputs.int("max_rows") : nil
        expectValue = inputs.has("expect_value") ? try inputs.string("expect_value") : nil
    }

    public func describe() -> String {
        var text = "\(readonly ? "query" : "run") `\(query)` on \(urlEnvironment.map { "the PostgreSQL server of $\($0)" } ?? database.maskingURLPasswords)"
        if !bind.isEmpty { text += " with \(bind)" }
        var checks: [String] = []
        if let expectRows { checks.append("\(expectRows) row(s)") }
        if let minRows { checks.append("at least \(minRows) row(s)") }
        if let maxRows { checks.append("at most \(maxRows) row(s)") }
        if let expectValue { checks.append("value '\(expectValue)'") }
        return checks.isEmpty ? text : text + ", expecting " + checks.joined(separator: ", ")
    }

    public func run(in context: StepContext) async throws -> StepResult {
        var target = database
        if let name = urlEnvironment {
            guard let url = context.environment[name] ?? ProcessInfo.processInfo.environment[name], !url.isEmpty else {
                throw StepFailure("url_env names \(name), which is not set: export it as postgresql://USER:PASSWORD@HOST:PORT/DATABASE")
            }
            target = url
        }
        let columns: [String]
        let rows: [[String: Value]]
        if target.contains("://") {
            guard let servers = context.services.sqlServers, servers.handles(target) else {
                throw StepFailure("\(target.maskingURLPasswords) is not a database this step reaches: give a SQLite file or a postgresql:// URL")
            }
            do {
                let result = try await servers.query(target, sql: query, binds: bind, readonly: readonly)
                columns = result.columns
                rows = result.rows.map { Dictionary(zip(result.columns, $0), uniquingKeysWith: { first, _ in first }) }
            } catch {
                throw StepFailure("\(error)".maskingURLPasswords)
            }
        } else {
            (columns, rows) = try await sqlite(context.resolvePath(target))
        }
        return try check(columns: columns, rows: rows)
    }

    private func sqlite(_ path: String) async throws -> ([String], [[String: Value]]) {
        guard FileManager.default.fileExists(atPath: path) else {
            throw StepFailure("database \(path) does not exist: check the path (it is not created by a query)")
        }
        var configuration = Configuration()
        configuration.readonly = readonly
        configuration.busyMode = .timeout(5)
        let rows: [[String: Value]]
        let columns: [String]
        do {
            let queue = try DatabaseQueue(path: path, configuration: configuration)
            (columns, rows) = try await withTaskCancellationHandler {
                try queue.write { db in
                    let statement = try db.makeStatement(sql: query)
                    statement.arguments = StatementArguments(bind)
                    let columns = statement.columnNames
                    let rows = try Row.fetchAll(statement).map { row in
                        Dictionary(uniqueKeysWithValues: columns.enumerated().map { ($1, Self.value(row[$0])) })
                    }
                    return (columns, rows)
                }
            } onCancel: {
                queue.interrupt()
            }
        } catch let error as DatabaseError {
            throw StepFailure("SQLite error \(error.resultCode.rawValue) on \(path): \(error.message ?? "\(error)")")
        } catch {
            throw StepFailure("cannot run the query on \(path): give one SQL statement per sql step (\(error))")
        }
        return (columns, rows)
    }

    private func check(columns: [String], rows: [[String: Value]]) throws -> StepResult {
        var outputs: [String: Value] = [
            "count": .number(Double(rows.count)),
            "value": rows.first.flatMap { row in columns.first.flatMap { row[$0] } } ?? .null,
            "rows": .string(Value.list(rows.map(Value.map)).jsonText),
        ]
        for (name, value) in rows.first ?? [:] where outputs[name] == nil { outputs[name] = value }
        let summary = "\(rows.count) row(s)" + (rows.isEmpty ? "" : ": " + Value.list(rows.prefix(5).map(Value.map)).jsonText)

        if let expectRows, rows.count != expectRows { throw StepFailure("expected \(expectRows) row(s), got \(rows.count)", output: summary, outputs: outputs) }
        if let minRows, rows.count < minRows { throw StepFailure("expected at least \(minRows) row(s), got \(rows.count)", output: summary, outputs: outputs) }
        if let maxRows, rows.count > maxRows { throw StepFailure("expected at most \(maxRows) row(s), got \(rows.count)", output: summary, outputs: outputs) }
        if let expectValue, !ExpressionEvaluator.equal(outputs["value"]!, .string(expectValue)) {
            throw StepFailure("expected value '\(expectValue)', got '\(outputs["value"]!.text)'", output: summary, outputs: outputs)
        }
        return StepResult(outputs: outputs, output: summary)
    }

    private static func value(_ database: DatabaseValue) -> Value {
        switch database.storage {
        case .null: return .null
        case .int64(let number): return .number(Double(number))
        case .double(let number): return .number(number)
        case .string(let text): return .string(text)
        case .blob(let data): return .string("<\(data.count) bytes>")
        }
    }
}
