import Foundation
import RunbookChecks
import RunbookCore
import RunbookEscalation
import RunbookExecutor
import RunbookFlows
import RunbookScheduler
import RunbookPostgres
import RunbookSQLite
import RunbookStore
import RunbookTestSupport
import Testing

/// The records of one backend, port by port, as the engine sees them. Every conformance suite
/// runs against each backend listed in `RecordsBackend`: a second backend adds a case there and
/// passes the very same tests.
struct Records: Sendable {
    var runs: any RunRecorder & RunHistory & ApprovalStore
    var flows: any FlowStore & HealthRecords
    var checks: any CheckJournal & AlertBook
    var schedule: any SchedulerStateStore
    var incidents: any IncidentStore
}

/// Where the records live for a test: a fresh, empty store, which `reopen` opens again as a new
/// process would (what was written must still be there).
struct RecordsPlace: Sendable {
    let backend: RecordsBackend
    let folder: URL
    /// The database of its own on the tests' server, for PostgreSQL.
    let url: String?

    init(_ backend: RecordsBackend) async throws {
        self.backend = backend
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("runbook-conformance-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        url = backend == .postgresql ? try await PostgresServer.shared().makeDatabase() : nil
    }

    func open() async throws -> Records {
        switch backend {
        case .sqlite:
            let database = try RecordsDatabase(path: folder.appendingPathComponent("records.db").path)
            return Records(runs: database.runs, flows: database.flows, checks: database.checks, schedule: database.schedule, incidents: database.incidents)
        case .postgresql:
            let database = try await PostgresRecords.open(url: PostgresURL(url!), engine: "conformance")
            return Records(runs: database.runs, flows: database.flows, checks: database.checks, schedule: database.schedule, incidents: database.incidents)
        }
    }

    func remove() {
        try? FileManager.default.removeItem(at: folder)
    }
}

enum RecordsBackend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite
    case postgresql

    var testDescription: String { rawValue }
}

/// The tick stores, as `TickIngest` sees them: SQLite in a scratch folder, PostgreSQL in a
/// database of its own on the tests' own server (`PostgresServer`).
enum TickBackend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite
    case postgresql

    var testDescription: String { rawValue }

    func open(in folder: URL, database: String?) async throws -> any TickStore {
        switch self {
        case .sqlite: try SQLiteTickStore(path: folder.appendingPathComponent("ticks.db").path)
        case .postgresql: try await PostgresTickStore.open(url: PostgresURL(database!))
        }
    }
}

/// Instants a few seconds apart from a fixed origin, as records store them (milliseconds).
enum At {
    static let origin = Date(timeIntervalSince1970: 1_780_000_000)

    static func seconds(_ offset: Double) -> Date { origin.addingTimeInterval(offset) }
}

/// A FlowStore call made as the flows make it: on a thread of their own, never one of the async
/// executors' (a store may wait there for its server).
func onFlowThread<T: Sendable>(_ call: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try call() }) }
    }
}
