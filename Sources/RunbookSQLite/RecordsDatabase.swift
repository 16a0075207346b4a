import Foundation
import GRDB

/// The records database: one SQLite file (WAL) shared by the stores of every records port, each
/// owning its tables and its migrations (`RecordsMigrations`). Opening it migrates every port and
/// marks runs that a crashed process left `running` as `interrupted`.
///
/// Readers (`runbook history`, the HTTP API, another process) read while the engine writes: the
/// file is opened as a `DatabasePool`, one writer and concurrent readers.
public final class RecordsDatabase: Sendable {
    public let path: String
    /// Runs, steps and their attempts.
    public let runs: SQLiteRunRecorder
    /// The flows' records: EAs, signals, fires, trades, probes; probes read them back.
    public let flows: SQLiteFlowStore
    /// Check state changes and the alerts they open.
    public let checks: SQLiteCheckJournal
    /// The scheduler's marks.
    public let schedule: SQLiteSchedulerState
    /// Incidents, their timelines, silences and the outbox.
    public let incidents: SQLiteIncidentStore

    /// The ports in the order their migrations run; a port's tables never depend on a later one's.
    static var migrators: [DatabaseMigrator] {
        [SQLiteRunRecorder.migrator, SQLiteFlowStore.migrator, SQLiteCheckJournal.migrator, SQLiteSchedulerState.migrator, SQLiteIncidentStore.migrator]
    }

    public init(path: String) throws {
        self.path = path
        let writer: any DatabaseWriter
        do {
            writer = try SQLiteFile.pool(at: path, busyTimeout: 10)
            for migrator in Self.migrators { try Self.migrate(writer, with: migrator) }
        } catch {
            throw RecordsError("cannot open the run records at \(path): \(error)")
        }
        runs = SQLiteRunRecorder(writer)
        flows = SQLiteFlowStore(writer)
        checks = SQLiteCheckJournal(writer)
        schedule = SQLiteSchedulerState(writer)
        incidents = SQLiteIncidentStore(writer)
        try runs.markInterruptedRuns()
    }

    /// Two processes can open a new file at once (a manual run while the engine starts): the one
    /// that loses the race finds the other's tables and tries again once they are committed.
    private static func migrate(_ writer: any DatabaseWriter, with migrator: DatabaseMigrator) throws {
        var attempt = 1
        while true {
            do {
                try migrator.migrate(writer)
                return
            } catch let error as DatabaseError where attempt < 5 {
                guard error.resultCode == .SQLITE_ERROR || error.resultCode == .SQLITE_BUSY else { throw error }
                attempt += 1
                usleep(200_000)
            }
        }
    }
}

extension DatabaseWriter {
    /// Writes on the writer's queue without holding a thread while it waits, and finishes even
    /// when the caller is cancelled: the end of a cancelled run, the mark of a fire and the change
    /// of a check are records that must land. (GRDB's own async writes throw once the task is
    /// cancelled.)
    func record<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            asyncWriteWithoutTransaction { db in continuation.resume(with: Result { try body(db) }) }
        }
    }
}

extension DatabaseReader {
    /// Reads without holding a thread while it waits, even when the caller is cancelled: the
    /// incident desk and the outbox finish what they started while the engine shuts down. (GRDB's
    /// own async reads throw once the task is cancelled.)
    func fetch<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            asyncRead { result in continuation.resume(with: Result { try body(result.get()) }) }
        }
    }
}

/// A records port's store in SQLite: its tables, made and changed by its own migrations. The
/// identifiers are those the single migrator of earlier versions used, so that files they wrote
/// open unchanged.
protocol RecordsMigrations {
    static var migrator: DatabaseMigrator { get }
}

/// Opening a SQLite file the way every store here wants it: WAL, made 0600 before SQLite opens it.
/// `busyTimeout`: how long a write waits for a lock another process holds before it fails.
enum SQLiteFile {
    /// One writer and concurrent readers, for the records: `runbook history` or the HTTP API read
    /// while a run writes.
    static func pool(at path: String, busyTimeout: TimeInterval) throws -> DatabasePool {
        let configuration = try prepare(path, busyTimeout: busyTimeout)
        return try DatabasePool(path: path, configuration: configuration)
    }

    /// One connection, for the tick store: opening it never writes, so a store whose lock another
    /// process holds still opens (and the ingest spools until the lock is released), where a pool
    /// may have to write to set up its write-ahead log.
    static func queue(at path: String, busyTimeout: TimeInterval) throws -> DatabaseQueue {
        try DatabaseQueue(path: path, configuration: prepare(path, busyTimeout: busyTimeout, walBySelf: true))
    }

    /// `walBySelf`: the connection turns the file to WAL itself (a pool does it on its own).
    private static func prepare(_ path: String, busyTimeout: TimeInterval, walBySelf: Bool = false) throws -> Configuration {
        let folder = (path as NSString).deletingLastPathComponent
        if !folder.isEmpty { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
        var configuration = Configuration()
        configuration.busyMode = .timeout(busyTimeout)
        configuration.prepareDatabase { db in
            if walBySelf { try db.execute(sql: "PRAGMA journal_mode = WAL") }
            // With NORMAL in WAL mode, a commit survives a crash of this process; only a power
            // cut can lose the newest commits.
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }
        try OwnerOnlyFile.prepare(path)
        return configuration
    }
}

public struct RecordsError: Error, Sendable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}
