import Foundation
import RunbookChecks
import RunbookCore
import RunbookEscalation
import RunbookModel

/// What the HTTP server reads and asks of the engine. `runbook up` fills it in from the live
/// engine, the guardian, the records, the launcher and the schedules; tests fill it in with
/// their own parts. The server knows nothing else of the engine.
public struct ServerBackend: Sendable {
    /// The engine's services and counters, and restarts through their supervisors.
    public var engine: any EngineControl
    /// Every check's state now.
    public var checks: @Sendable () -> HealthReport
    /// Nil when the records database answers; otherwise what is wrong.
    public var storeProblem: @Sendable () async -> String?
    /// Recorded runs, newest first.
    public var runs: @Sendable (RunQuery) async throws -> [RunView]
    /// One run with its steps.
    public var run: @Sendable (Int64) async throws -> RunView?
    /// Starts a runbook in the background with parameters as text; returns the run's id.
    public var startRun: @Sendable (_ runbook: String, _ params: [String: String]) async throws -> Int64
    /// The schedules with their next fires after the instant given.
    public var schedules: @Sendable (Date) -> [ScheduleView]
    /// Signals recorded per hour over the last `hours` hours, oldest first.
    public var signalsPerHour: @Sendable (_ hours: Int) async throws -> [HourCount]
    /// Incidents, silences and the outbox: listed, acknowledged, silenced through the API,
    /// counted on `/metrics`, shown on the dashboard. Nil: the incident routes answer 503.
    public var incidents: IncidentDesk?
    /// The engines sharing the records, and the lease's time to live (past which an engine's
    /// silence counts as dead); nil without a fleet.
    public var fleet: (store: any FleetStore, ttl: Duration)?
    /// The kill switch on the command router: shown on the dashboard and the health endpoints,
    /// closed and opened through the API. Nil: the gate routes answer 503.
    public var gate: GateKeeper?
    /// Answers to runs waiting at an `approve` step: listed, approved and rejected through the
    /// API and the dashboard. Nil: the approval routes answer 503.
    public var approvals: ApprovalDesk?

    public init(
        engine: any EngineControl,
        checks: @escaping @Sendable () -> HealthReport,
        storeProblem: @escaping @Sendable () async -> String?,
        runs: @escaping @Sendable (RunQuery) async throws -> [RunView],
        run: @escaping @Sendable (Int64) async throws -> RunView?,
        startRun: @escaping @Sendable (String, [String: String]) async throws -> Int64,
        schedules: @escaping @Sendable (Date) -> [ScheduleView],
        signalsPerHour: @escaping @Sendable (Int) async throws -> [HourCount],
        incidents: IncidentDesk? = nil
    ) {
        self.engine = engine
        self.checks = checks
        self.storeProblem = storeProblem
        self.runs = runs
        self.run = run
        self.startRun = startRun
        self.schedules = schedules
        self.signalsPerHour = signalsPerHour
        self.incidents = incidents
    }
}

/// A refusal the API reports with its own status: a runbook that does not exist (404), bad
/// parameters (400).
public struct APIError: Error, Sendable, CustomStringConvertible {
    public enum Kind: Sendable { case badRequest, notFound, conflict }
    public var kind: Kind
    public var description: String

    public init(_ kind: Kind, _ description: String) {
        self.kind = kind
        self.description = description
    }
}

/// Filters of `GET /api/runs`.
public struct RunQuery: Sendable, Equatable {
    public var runbook: String?
    public var status: String?
    public var limit: Int

    public init(runbook: String? = nil, status: String? = nil, limit: Int = 50) {
        self.runbook = runbook
        self.status = status
        self.limit = limit
    }
}

/// A recorded run as the API shows it (parameters with secrets already masked).
public struct RunView: Sendable, Codable, Equatable {
    public var id: Int64
    public var runbook: String
    public var trigger: String
    public var triggerSource: String?
    public var params: [String: String]
    public var parentRunId: Int64?
    public var startedAt: Date
    public var finishedAt: Date?
    public var status: String
    public var escalationLevel: Int
    public var error: String?
    /// Step attempts, in order; only when one run is asked for, or for the dashboard's recent runs.
    public var steps: [StepView]?

    public init(
        id: Int64, runbook: String, trigger: String, triggerSource: String? = nil, params: [String: String] = [:], parentRunId: Int64? = nil,
        startedAt: Date, finishedAt: Date? = nil, status: String, escalationLevel: Int = 0, error: String? = nil, steps: [StepView]? = nil
    ) {
        self.id = id
        self.runbook = runbook
        self.trigger = trigger
        self.triggerSource = triggerSource
        self.params = params
        self.parentRunId = parentRunId
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.status = status
        self.escalationLevel = escalationLevel
        self.error = error
        self.steps = steps
    }
}

/// One attempt of one step (attempt 0: skipped).
public struct StepView: Sendable, Codable, Equatable {
    public var index: Int
    public var id: String
    public var primitive: String
    public var attempt: Int
    public var status: String
    public var startedAt: Date
    public var finishedAt: Date?
    public var durationMs: Double?
    public var exitCode: Int?
    public var output: String
    public var error: String?

    public init(
        index: Int, id: String, primitive: String, attempt: Int, status: String, startedAt: Date, finishedAt: Date? = nil,
        durationMs: Double? = nil, exitCode: Int? = nil, output: String = "", error: String? = nil
    ) {
        self.index = index
        self.id = id
        self.primitive = primitive
        self.attempt = attempt
        self.status = status
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.durationMs = durationMs
        self.exitCode = exitCode
        self.output = output
        self.error = error
    }
}

/// A schedule with its next fires.
public struct ScheduleView: Sendable, Codable, Equatable {
    public var name: String
    public var runbook: String
    public var when: String
    public var timeZone: String
    public var next: [Date]
    public var params: [String: String]

    public init(name: String, runbook: String, when: String, timeZone: String, next: [Date], params: [String: String]) {
        self.name = name
        self.runbook = runbook
        self.when = when
        self.timeZone = timeZone
        self.next = next
        self.params = params
    }
}

/// A count in the hour starting at `hour`.
public struct HourCount: Sendable, Codable, Equatable {
    public var hour: Date
    public var count: Int

    public init(hour: Date, count: Int) {
        self.hour = hour
        self.count = count
    }
}
