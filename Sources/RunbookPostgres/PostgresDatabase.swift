import Foundation
import Logging
import PostgresNIO
import Synchronization

/// A pooled PostgreSQL client that runs for as long as its owner, with the calls every store of
/// this module makes: statements with a bound on how long they wait for the server, migrations,
/// and errors said with the server's reason and the URL without its password.
public final class PostgresDatabase: Sendable {
    public let url: PostgresURL
    let client: PostgresClient
    let logger: Logger
    private let runner: Task<Void, Never>
    /// How long a call waits for a connection and its answer before it fails (and the caller
    /// retries or spools): the pool would otherwise wait for the server for as long as it is down.
    let patience: Duration

    /// `durable`: see `PostgresURL.clientConfiguration(durable:)`.
    public init(url: PostgresURL, patience: Duration = .seconds(10), durable: Bool = true, logger: Logger = Logger(label: "runbook.postgres")) {
        self.url = url
        self.logger = logger
        self.patience = patience
        // The pool logs each failed connection attempt at info: during an outage, once a second.
        // (A logger's level may be the whole program's, so it is filtered here, not lowered.)
        let background = Logger(label: logger.label) { _ in WarningsOf(logger: logger) }
        let client = PostgresClient(configuration: url.clientConfiguration(durable: durable), backgroundLogger: background)
        self.client = client
        runner = Task.detached { await client.run() }
    }

    deinit { runner.cancel() }

    /// Stops the pool; calls after it fail.
    public func close() { runner.cancel() }

    /// Runs `body` with a connection of the pool, failing after `patience` (its default, or the
    /// one given; `nil`: as long as it takes, for compression and retention).
    func withConnection<T: Sendable>(patience: Duration?? = .none, _ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try await bounded(patience ?? self.patience) { [client] in try await client.withConnection { try await body($0) } }
    }

    /// Runs `body` in a transaction, failing after `patience` as `withConnection` (the
    /// transaction rolls back).
    func withTransaction<T: Sendable>(patience: Duration?? = .none, _ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        try await bounded(patience ?? self.patience) { [client, logger] in
            do {
                return try await client.withTransaction(logger: logger) { try await body($0) }
            } catch let error as PostgresTransactionError {
                throw error.closureError ?? error.commitError ?? error.beginError ?? error
            }
        }
    }

    /// One connection made and closed, outside the pool: the server's own answer (a refused
    /// password, an unknown database, a refused connection) where the pool would only keep trying.
    func probe() async throws {
        do {
            let connection = try await PostgresConnection.connect(configuration: url.connectionConfiguration, id: 0, logger: quietLogger)
            try await connection.close()
        } catch {
            throw PostgresStoreError(describe(error), sqlState: Self.sqlState(error))
        }
    }

    /// `work`, given up on after `patience`: the caller gets an error then, even where the work
    /// itself cannot be cancelled (a statement already sent waits for the server's answer; it is
    /// cancelled and left to end on its own). After a second, one connection of our own tells a
    /// server that is down or refusing us (and fails the call at once) from one that is only slow,
    /// since the pool would keep trying for as long as the server refuses.
    private func bounded<T: Sendable>(_ patience: Duration?, _ work: @escaping @Sendable () async throws -> T) async throws -> T {
        let outcome = Once<T>()
        let worker = Task { await outcome.settle(await Result { try await work() }) }
        let watchdog = patience.map { patience in
            Task { [url] in
                let first = min(patience, .seconds(1))
                try await Task.sleep(for: first)
                // Beside the deadline, not before it: a server cut off by the network does not
                // answer the probe either, and the call still ends at its patience.
                let prober = Task {
                    do { try await self.probe() } catch { await outcome.settle(.failure(error)) }
                }
                defer { prober.cancel() }
                try await Task.sleep(for: patience - first)
                await outcome.settle(.failure(PostgresStoreError("PostgreSQL at \(url) did not answer within \(patience)")))
            }
        }
        defer {
            worker.cancel()
            watchdog?.cancel()
        }
        do {
            return try await withTaskCancellationHandler {
                try await outcome.value()
            } onCancel: {
                worker.cancel()
                Task { await outcome.settle(.failure(CancellationError())) }
            }
        } catch where Self.isFromTheDriver(error) {
            throw PostgresStoreError(describe(error), sqlState: Self.sqlState(error))
        }
    }

    /// Whether `error` came from PostgresNIO or the network under it (and so is said with the
    /// server's reason and the URL), rather than from the caller's own work (`IncidentConflict`,
    /// a `PostgresStoreError` already said), which passes through as it is.
    static func isFromTheDriver(_ error: any Error) -> Bool {
        let type = String(reflecting: Swift.type(of: error))
        return ["PostgresNIO.", "_ConnectionPoolModule.", "NIOCore.", "NIOPosix.", "NIOSSL."].contains { type.hasPrefix($0) }
    }

    /// An error of PostgresNIO as an operator reads it: what the server said and its SQLSTATE,
    /// and where (the URL without its password), with what to do for the usual causes.
    func describe(_ error: any Error) -> String { Self.describe(error, url: url) }

    /// `describe` for a connection of its own (the `sql` step and probe).
    static func describe(_ error: any Error, url: PostgresURL) -> String {
        guard let error = error as? PSQLError else { return "PostgreSQL at \(url): \(error)" }
        if let info = error.serverInfo {
            let state = info[.sqlState] ?? "?"
            let message = info[.message] ?? "error"
            let advice = switch state {
            case "28P01", "28000": "; check the user and password in the URL"
            case "3D000": "; create the database, or name another in the URL"
            case "42501": "; grant the user the right, or use the database's owner"
            default: ""
            }
            return "PostgreSQL at \(url): \(message) (SQLSTATE \(state))\(advice)"
        }
        let reason = error.underlying.map { "\($0)" } ?? "\(error.code)"
        return "cannot reach PostgreSQL at \(url): \(reason)"
    }

    /// The SQLSTATE of a server error, if `error` is one.
    static func sqlState(_ error: any Error) -> String? {
        (error as? PSQLError)?.serverInfo?[.sqlState]
    }

    /// Applies the migrations not yet applied, in order, each in its own transaction, under an
    /// advisory lock so engines starting together do not race; each is recorded by name in
    /// `runbook_migrations` (`scope` tells the stores apart).
    func migrate(scope: String, _ migrations: [(name: String, sql: String)]) async throws {
        try await withConnection { connection in
            try await connection.sql("SELECT pg_advisory_lock(hashtext('runbook migrations'))")
            do {
                try await connection.sql("CREATE TABLE IF NOT EXISTS runbook_migrations (scope text NOT NULL, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (scope, name))")
                var applied = Set<String>()
                for try await name in try await connection.sql("SELECT name FROM runbook_migrations WHERE scope = \(scope)").decode(String.self) {
                    applied.insert(name)
                }
                for migration in migrations where !applied.contains(migration.name) {
                    try await connection.sql("BEGIN")
                    do {
                        for statement in migration.sql.components(separatedBy: ";\n") where !statement.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                            try await connection.sql(PostgresQuery(unsafeSQL: statement))
                        }
                        try await connection.sql("INSERT INTO runbook_migrations (scope, name) VALUES (\(scope), \(migration.name))")
                        try await connection.sql("COMMIT")
                    } catch {
                        try? await connection.sql("ROLLBACK")
                        throw error
                    }
                }
            } catch {
                _ = try? await connection.sql("SELECT pg_advisory_unlock(hashtext('runbook migrations'))")
                throw error
            }
            try await connection.sql("SELECT pg_advisory_unlock(hashtext('runbook migrations'))")
        }
    }
}

/// Work run one piece at a time, in the order it was asked for.
actor OneAtATime {
    private var last: Task<Void, Never>?

    func run<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) async throws -> T {
        let previous = last
        let task = Task {
            await previous?.value
            try Task.checkCancellation()
            return try await work()
        }
        last = Task { _ = await task.result }
        // A caller cancelled (a step's timeout, Ctrl-C) cancels its work, waiting or running.
        return try await withTaskCancellationHandler { try await task.value } onCancel: { task.cancel() }
    }
}

/// The first result given, to whoever waits for it.
actor Once<T: Sendable> {
    private var result: Result<T, any Error>?
    private var waiting: CheckedContinuation<T, any Error>?

    func settle(_ outcome: Result<T, any Error>) {
        guard result == nil else { return }
        result = outcome
        waiting?.resume(with: outcome)
        waiting = nil
    }

    func value() async throws -> T {
        if let result { return try result.get() }
        return try await withCheckedThrowingContinuation { waiting = $0 }
    }
}

extension Result where Failure == any Error {
    init(catching body: () async throws -> Success) async {
        do { self = .success(try await body()) } catch { self = .failure(error) }
    }
}

/// What a logger is given from warning up; the rest is dropped.
struct WarningsOf: LogHandler {
    let logger: Logger
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level {
        get { .warning }
        set {}
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        guard event.level >= .warning else { return }
        logger.log(level: event.level, event.message, metadata: metadata.merging(event.metadata ?? [:]) { $1 }, source: event.source, file: event.file, function: event.function, line: event.line)
    }
}

/// Runs async work to its end from a thread that may block (never one of the async executors'),
/// and returns its result.
func blocking<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) throws -> T {
    let result = Mutex<Result<T, any Error>?>(nil)
    let done = DispatchSemaphore(value: 0)
    Task.detached {
        let outcome: Result<T, any Error>
        do { outcome = .success(try await work()) } catch { outcome = .failure(error) }
        result.withLock { $0 = outcome }
        done.signal()
    }
    done.wait()
    return try result.withLock { $0! }.get()
}

extension PostgresConnection {
    /// A statement on this connection, logged nowhere (the statements hold no secret, but their
    /// values are the user's data).
    @discardableResult
    func sql(_ query: PostgresQuery, file: String = #fileID, line: Int = #line) async throws -> PostgresRowSequence {
        try await self.query(query, logger: quietLogger, file: file, line: line)
    }
}

let quietLogger = Logger(label: "runbook.postgres.statements", factory: { _ in SwiftLogNoOpLogHandler() })
