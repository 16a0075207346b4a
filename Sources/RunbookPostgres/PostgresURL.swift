import Foundation
import PostgresNIO
import RunbookModel

/// A `postgresql://user:password@host:port/database` URL, read from the environment. Its
/// `redacted` form, with the password replaced, is the only one that is ever shown.
public struct PostgresURL: Sendable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var username: String
    public var password: String?
    public var database: String
    /// `sslmode=require` (or `verify-full`): TLS to the server. `disable`, the default here, or `prefer`: none.
    public var requireTLS: Bool

    public init(_ text: String) throws {
        guard let components = URLComponents(string: text), let scheme = components.scheme,
              ["postgres", "postgresql"].contains(scheme.lowercased()) else {
            throw PostgresStoreError("not a PostgreSQL URL: \(Self.redact(text)); write postgresql://USER:PASSWORD@HOST:PORT/DATABASE")
        }
        guard let user = components.user, !user.isEmpty else {
            throw PostgresStoreError("the PostgreSQL URL \(Self.redact(text)) names no user; write postgresql://USER:PASSWORD@HOST:PORT/DATABASE")
        }
        username = user.removingPercentEncoding ?? user
        password = components.password.map { $0.removingPercentEncoding ?? $0 }
        host = components.host.flatMap { $0.isEmpty ? nil : $0 } ?? "localhost"
        port = components.port ?? 5432
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        database = path.isEmpty ? username : (path.removingPercentEncoding ?? path)
        let mode = components.queryItems?.first { $0.name == "sslmode" }?.value ?? "disable"
        switch mode {
        case "disable", "allow", "prefer": requireTLS = false
        case "require", "verify-ca", "verify-full": requireTLS = true
        default: throw PostgresStoreError("sslmode=\(mode) in \(Self.redact(text)) is not known; write disable, prefer, require or verify-full")
        }
    }

    /// The URL with its password replaced by `***`.
    public var description: String {
        "postgresql://\(username)\(password == nil ? "" : ":***")@\(host):\(port)/\(database)"
    }

    /// Any text that may hold a URL, with the password of every `scheme://user:password@` replaced.
    public static func redact(_ text: String) -> String {
        text.maskingURLPasswords
    }

    var connectionConfiguration: PostgresConnection.Configuration {
        var configuration = PostgresConnection.Configuration(
            host: host, port: port, username: username, password: password, database: database,
            tls: requireTLS ? .require(try! .init(configuration: .makeClientConfiguration())) : .disable
        )
        configuration.options.connectTimeout = .seconds(5)
        return configuration
    }

    var clientConfiguration: PostgresClient.Configuration {
        var configuration = PostgresClient.Configuration(
            host: host, port: port, username: username, password: password, database: database,
            tls: requireTLS ? .require(.makeClientConfiguration()) : .disable
        )
        configuration.options.minimumConnections = 0
        configuration.options.maximumConnections = 8
        configuration.options.connectTimeout = .seconds(5)
        return configuration
    }
}

/// What went wrong with PostgreSQL, said without a password.
public struct PostgresStoreError: Error, CustomStringConvertible {
    public let description: String
    /// The server's SQLSTATE, where the server answered with an error.
    public let sqlState: String?

    public init(_ description: String, sqlState: String? = nil) {
        self.description = PostgresURL.redact(description)
        self.sqlState = sqlState
    }
}
