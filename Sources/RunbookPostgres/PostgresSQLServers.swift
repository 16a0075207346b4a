import Foundation
import Logging
import NIOCore
import PostgresNIO
import RunbookModel
import RunbookSteps

/// The `sql` step and probe on PostgreSQL: one connection per query, made and closed, so a
/// runbook's query never holds a connection of the tick store's pool.
public struct PostgresSQLServers: SQLServers {
    public init() {}

    public func handles(_ database: String) -> Bool {
        database.hasPrefix("postgresql://") || database.hasPrefix("postgres://")
    }

    public func query(_ database: String, sql: String, binds: [String], readonly: Bool) async throws -> (columns: [String], rows: [[Value]]) {
        let url = try PostgresURL(database)
        let connection: PostgresConnection
        do {
            connection = try await PostgresConnection.connect(configuration: url.connectionConfiguration, id: 1, logger: quietLogger)
        } catch {
            throw PostgresStoreError(PostgresDatabase.describe(error, url: url), sqlState: PostgresDatabase.sqlState(error))
        }
        defer { Task { try? await connection.close() } }
        var bindings = PostgresBindings()
        for value in binds { bindings.append(UntypedText(text: value)) }
        do {
            if readonly { try await connection.sql("BEGIN READ ONLY") }
            let rows = try await connection.sql(PostgresQuery(unsafeSQL: sql, binds: bindings))
            var columns: [String] = []
            var values: [[Value]] = []
            for try await row in rows {
                if columns.isEmpty { columns = row.map(\.columnName) }
                values.append(row.map(Self.value))
            }
            if readonly { try await connection.sql("COMMIT") }
            return (columns, values)
        } catch {
            throw PostgresStoreError(PostgresDatabase.describe(error, url: url), sqlState: PostgresDatabase.sqlState(error))
        }
    }

    /// A cell as the step's outputs show it: integers and reals as numbers, text as text, booleans
    /// as booleans, binary data as `<N bytes>`.
    static func value(_ cell: PostgresCell) -> Value {
        guard cell.bytes != nil else { return .null }
        switch cell.dataType {
        case .int2, .int4, .int8, .oid:
            return (try? cell.decode(Int64.self)).map { .number(Double($0)) } ?? .null
        case .float4, .float8:
            return (try? cell.decode(Double.self)).map { .number($0) } ?? .null
        case .numeric:
            return (try? cell.decode(Decimal.self)).map { .number(NSDecimalNumber(decimal: $0).doubleValue) } ?? .null
        case .bool:
            return (try? cell.decode(Bool.self)).map { .bool($0) } ?? .null
        case .bytea:
            return .string("<\(cell.bytes?.readableBytes ?? 0) bytes>")
        case .timestamp, .timestamptz, .date:
            return (try? cell.decode(Date.self)).map { .string(ISO8601DateFormatter().string(from: $0)) } ?? .null
        case .text, .varchar, .bpchar, .name, .json, .jsonb, .uuid:
            if cell.dataType == .uuid { return (try? cell.decode(UUID.self)).map { .string($0.uuidString.lowercased()) } ?? .null }
            return (try? cell.decode(String.self)).map { .string($0) } ?? .null
        default:
            return .string("<\(cell.dataType)>")
        }
    }
}

/// A bound value as text whose type the server infers from the statement, as `?` values are
/// bound in SQLite: `WHERE id = $1` takes "42" as a number.
struct UntypedText: PostgresNonThrowingEncodable {
    var text: String
    static var psqlType: PostgresDataType { PostgresDataType(0) }
    static var psqlFormat: PostgresFormat { .text }

    func encode<JSONEncoder: PostgresJSONEncoder>(into byteBuffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>) {
        byteBuffer.writeString(text)
    }
}
