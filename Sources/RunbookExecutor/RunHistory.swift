import Foundation

/// The runs recorded, for review: `history`, `show`, the HTTP API and the dashboard.
public protocol RunHistory: Sendable {
    /// The latest runs that match, newest first.
    func runs(_ filter: RunFilter) async throws -> [RunRecord]
    func run(id: Int64) async throws -> RunRecord?
    /// A run's attempts in step order (a skipped step is attempt 0).
    func attempts(runID: Int64) async throws -> [AttemptRecord]
    /// The runs a run started (`run` steps), oldest first.
    func children(of runID: Int64) async throws -> [RunRecord]
}

extension RunHistory {
    /// The latest 50 runs.
    public func runs() async throws -> [RunRecord] { try await runs(RunFilter()) }
}

/// A recorded run, as `history` and `show` read it.
public struct RunRecord: Codable, Sendable {
    public var id: Int64
    public var runbook: String
    public var contentHash: String
    public var trigger: String
    /// The schedule or check that started the run.
    public var triggerSource: String?
    /// The fire time a scheduled run belongs to.
    public var dueAt: Date?
    public var params: String
    public var parentRunId: Int64?
    public var startedAt: Date
    public var finishedAt: Date?
    public var status: String
    public var escalationLevel: Int
    public var error: String?
    /// The engine that ran it, where several share the records.
    public var engine: String?

    public init(
        id: Int64, runbook: String, contentHash: String, trigger: String, triggerSource: String?, dueAt: Date?, params: String, parentRunId: Int64?,
        startedAt: Date, finishedAt: Date?, status: String, escalationLevel: Int, error: String?, engine: String? = nil
    ) {
        self.id = id
        self.runbook = runbook
        self.contentHash = contentHash
        self.trigger = trigger
        self.triggerSource = triggerSource
        self.dueAt = dueAt
        self.params = params
        self.parentRunId = parentRunId
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.status = status
        self.escalationLevel = escalationLevel
        self.error = error
        self.engine = engine
    }

    /// The recorded parameters (secrets already masked).
    public var parameters: [String: String] {
        (try? JSONSerialization.jsonObject(with: Data(params.utf8)) as? [String: String]) ?? [:]
    }
}

/// One attempt of one step, or a skipped step (attempt 0).
public struct AttemptRecord: Codable, Sendable {
    public var id: Int64
    public var runId: Int64
    public var stepIndex: Int
    public var stepId: String
    public var primitive: String
    public var attempt: Int
    public var startedAt: Date
    public var finishedAt: Date?
    public var durationMs: Double?
    public var status: String
    public var exitCode: Int?
    public var output: String
    public var error: String?
    /// The step's outputs as recorded (`Value.outputs(recorded:)` reads them); nil for none.
    public var outputs: String?

    public init(
        id: Int64, runId: Int64, stepIndex: Int, stepId: String, primitive: String, attempt: Int, startedAt: Date, finishedAt: Date?,
        durationMs: Double?, status: String, exitCode: Int?, output: String, error: String?, outputs: String? = nil
    ) {
        self.outputs = outputs
        self.id = id
        self.runId = runId
        self.stepIndex = stepIndex
        self.stepId = stepId
        self.primitive = primitive
        self.attempt = attempt
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.durationMs = durationMs
        self.status = status
        self.exitCode = exitCode
        self.output = output
        self.error = error
    }
}

public struct RunFilter: Sendable {
    public var runbook: String?
    public var status: String?
    public var since: Date?
    /// What started the runs (`schedule`, `check`, ...), and which schedule or check.
    public var trigger: String?
    public var source: String?
    public var limit: Int

    public init(runbook: String? = nil, status: String? = nil, since: Date? = nil, trigger: String? = nil, source: String? = nil, limit: Int = 50) {
        self.runbook = runbook
        self.status = status
        self.since = since
        self.trigger = trigger
        self.source = source
        self.limit = limit
    }
}
