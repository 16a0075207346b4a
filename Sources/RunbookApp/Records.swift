import Foundation
import RunbookChecks
import RunbookCore
import RunbookEscalation
import RunbookExecutor
import RunbookFlows
import RunbookPostgres
import RunbookScheduler
import RunbookSQLite

/// The records, port by port, whichever backend keeps them: the SQLite file of one engine, or a
/// PostgreSQL database several engines share (each writing what is local under its name).
public struct Records: Sendable {
    public let runs: any RunRecorder & RunHistory & ApprovalStore
    public let flows: any FlowStore & HealthRecords & GateStore
    public let checks: any CheckJournal & AlertBook
    public let schedule: any SchedulerStateStore
    public let incidents: any IncidentStore
    /// The lease and heartbeats of engines sharing the records; nil where no engine can (SQLite).
    public let fleet: (any FleetStore)?
    /// Whether an error of `flows` means the records cannot be reached now (see `SpoolingFlowStore`).
    public let isUnreachable: @Sendable (any Error) -> Bool
    private let closing: @Sendable () -> Void

    public init(_ database: RecordsDatabase) {
        self.init(runs: database.runs, flows: database.flows, checks: database.checks, schedule: database.schedule, incidents: database.incidents, fleet: nil, isUnreachable: SQLiteFlowStore.isUnreachable) {}
    }

    public init(_ database: PostgresRecords) {
        self.init(runs: database.runs, flows: database.flows, checks: database.checks, schedule: database.schedule, incidents: database.incidents, fleet: database.fleet,
            isUnreachable: PostgresFlowStore.isUnreachable
        ) {
            database.close()
        }
    }

    private init(
        runs: any RunRecorder & RunHistory & ApprovalStore, flows: any FlowStore & HealthRecords & GateStore, checks: any CheckJournal & AlertBook, schedule: any SchedulerStateStore,
        incidents: any IncidentStore, fleet: (any FleetStore)?, isUnreachable: @escaping @Sendable (any Error) -> Bool, closing: @escaping @Sendable () -> Void
    ) {
        self.isUnreachable = isUnreachable
        self.runs = runs
        self.flows = flows
        self.checks = checks
        self.schedule = schedule
        self.incidents = incidents
        self.fleet = fleet
        self.closing = closing
    }

    /// Lets the records' connections go (PostgreSQL); nothing for SQLite.
    public func close() { closing() }
}
