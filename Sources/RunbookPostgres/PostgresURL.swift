import Foundation
import NIOSSL
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
    /// `sslmode`, as libpq reads it: `require` encrypts without checking the certificate,
    /// `verify-ca` checks it against the system's roots, `verify-full` also checks the host name.
    /// `disable` (the default here), `allow` and `prefer` connect without TLS.
    public enum TLSMode: Sendable { case none, encrypted, verifiedCertificate, verifiedHost }
    public var tls: TLSMode
    public var requireTLS: Bool { tls != .none }

    public init(_ text: String) throws {
        guard let components = URLComponents(string: text), let scheme = components.scheme,
              ["postgres", "postgresql"].contains(scheme.lowercased()) else {
            // Not echoed: a URL that does not parse may hold its password where no mask finds it.
            throw PostgresStoreError("not a PostgreSQL URL (it is not shown, as it may hold a password): write postgresql://USER:PASSWORD@HOST:PORT/DATABASE, with characters such as @ : / and spaces in the password percent-encoded")
        }
        guard let user = components.user, !user.isEmpty else {
            throw PostgresStoreError("the PostgreSQL URL \(Self.redact(text)) names no user; write postgresql://USER:PASSWORD@HOST:PORT/DATABASE")
        }
        // URLComponents decodes user, password and path already.
        username = user
        password = components.password
        host = components.host.flatMap { $0.isEmpty ? nil : $0 } ?? "localhost"
        port = components.port ?? 5432
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        database = path.isEmpty ? username : path
        let mode = components.queryItems?.first { $0.name == "sslmode" }?.value ?? "disable"
        switch mode {
        case "disable", "allow", "prefer": tls = .none
        case "require": tls = .encrypted
        case "verify-ca": tls = .verifiedCertificate
        case "verify-full": tls = .verifiedHost
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

    var tlsConfiguration: TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        switch tls {
        case .none, .verifiedHost: break
        case .encrypted: configuration.certificateVerification = .none
        case .verifiedCertificate: configuration.certificateVerification = .noHostnameVerification
        }
        return configuration
    }

    var connectionConfiguration: PostgresConnection.Configuration {
        let context = requireTLS ? try? NIOSSLContext(configuration: tlsConfiguration) : nil
        var configuration = PostgresConnection.Configuration(
            host: host, port: port, username: username, password: password, database: database,
            tls: context.map { .require($0) } ?? .disable
        )
        configuration.options.connectTimeout = .seconds(5)
        return configuration
    }

    var clientConfiguration: PostgresClient.Configuration { clientConfiguration(durable: true) }

    /// `durable`: each commit waits for the server's disk (`synchronous_commit = on`), whatever
    /// the server's default; otherwise it is acknowledged once in the server's memory, and only a
    /// crash of the server's machine can lose the last fraction of a second of commits.
    func clientConfiguration(durable: Bool) -> PostgresClient.Configuration {
        var configuration = PostgresClient.Configuration(
            host: host, port: port, username: username, password: password, database: database,
            tls: requireTLS ? .require(tlsConfiguration) : .disable
        )
        configuration.options.minimumConnections = 0
        configuration.options.maximumConnections = 8
        // Durable before acknowledged, whatever the server's default: the ingest lets the journal
        // go once a batch is stored.
        configuration.options.additionalStartupParameters = [("synchronous_commit", durable ? "on" : "off")]
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

    /// Whether the server could not be reached or could not take the work now (down, cut off,
    /// shutting down, out of connections or resources, a standby not yet promoted, a conflict or
    /// lock to retry), rather than refusing what was asked: work that failed so may be tried again
    /// later as it is.
    public var isUnreachable: Bool {
        guard let sqlState else { return true }
        return ["08", "53", "57", "40"].contains(String(sqlState.prefix(2))) || ["25006", "55P03", "55006"].contains(sqlState)
    }
}
