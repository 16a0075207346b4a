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
