import Foundation
import GRDB

/// A recorded run, as `history` and `show` read it.
public struct RunRecord: Codable, Sendable, FetchableRecord {
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

    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase

    /// The recorded parameters (secrets already masked).
    public var parameters: [String: String] {
        (try? JSONSerialization.jsonObject(with: Data(params.utf8)) as? [String: String]) ?? [:]
    }
}

/// One attempt of one step, or a skipped step (attempt 0).
public struct AttemptRecord: Codable, Sendable, FetchableRecord {
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

    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
}
