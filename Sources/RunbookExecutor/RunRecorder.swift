import Foundation
import RunbookCore
import RunbookModel

/// Where runs and their steps are recorded. Calls are made in order and before side effects:
/// a step's start is recorded before the step does anything.
///
/// The end of an attempt travels with the next call (`completing`) when nothing happens in
/// between, so that a step costs one write instead of two; it is written on its own
/// (`finishAttempt`) before the run waits for anything.
public protocol RunRecorder: Sendable {
    func startRun(_ start: RunStart) async throws -> Int64
    func startAttempt(_ attempt: AttemptStart, completing previous: FinishedAttempt?) async throws -> Int64
    func finishAttempt(_ finished: FinishedAttempt) async throws
    func finishRun(_ id: Int64, _ outcome: RunOutcome, completing previous: FinishedAttempt?) async throws
}

/// An attempt's record id with how it ended.
public struct FinishedAttempt: Sendable {
    public var id: Int64
    public var outcome: AttemptOutcome

    public init(id: Int64, outcome: AttemptOutcome) {
        self.id = id
        self.outcome = outcome
    }
}

public enum Trigger: String, Sendable, CaseIterable {
    case manual, schedule, check, api, runbook
    /// `runbook resume`: a failed or interrupted run started again where it stopped.
    case resume
}


/// What started a run besides its trigger kind: the schedule or check by name, and for a
/// schedule the fire time the run belongs to.
public struct RunOrigin: Sendable, Equatable {
    /// The schedule's or check's name.
    public var source: String
    /// The instant the run was due (a schedule's fire time), when there is one.
    public var dueAt: Date?

    public init(source: String, dueAt: Date? = nil) {
        self.source = source
        self.dueAt = dueAt
    }
}

public struct RunStart: Sendable {
    public var runbook: String
    public var contentHash: String
    public var trigger: Trigger
    public var origin: RunOrigin?
    /// Parameters as recorded: secrets already replaced.
    public var params: [String: String]
    public var parentRunID: Int64?
    public var startedAt: Date

    public init(
        runbook: String, contentHash: String, trigger: Trigger, origin: RunOrigin? = nil, params: [String: String], parentRunID: Int64?,
        startedAt: Date
    ) {
        self.runbook = runbook
        self.contentHash = contentHash
        self.trigger = trigger
        self.origin = origin
        self.params = params
        self.parentRunID = parentRunID
        self.startedAt = startedAt
    }
}

public struct AttemptStart: Sendable {
    public var runID: Int64
    public var stepIndex: Int
    public var stepID: String
    public var primitive: String
    public var attempt: Int
    public var startedAt: Date
    /// Set for a step that is skipped: recorded as finished at once.
    public var skipped: Bool

    public init(runID: Int64, stepIndex: Int, stepID: String, primitive: String, attempt: Int, startedAt: Date, skipped: Bool = false) {
        self.runID = runID
        self.stepIndex = stepIndex
        self.stepID = stepID
        self.primitive = primitive
        self.attempt = attempt
        self.startedAt = startedAt
        self.skipped = skipped
    }
}

public struct AttemptOutcome: Sendable {
    public var status: StepStatus
    public var finishedAt: Date
    public var duration: Duration
    public var exitCode: Int32?
    public var output: String
    public var error: String?
    /// The step's outputs (secrets masked) as `Value.recorded` writes them; nil for none.
    public var outputs: String?

    public init(status: StepStatus, finishedAt: Date, duration: Duration, exitCode: Int32? = nil, output: String = "", error: String? = nil, outputs: String? = nil) {
        self.status = status
        self.finishedAt = finishedAt
        self.duration = duration
        self.exitCode = exitCode
        self.output = output
        self.error = error
        self.outputs = outputs
    }
}

public struct RunOutcome: Sendable {
    public var status: RunStatus
    public var finishedAt: Date
    public var escalationLevel: Int
    public var error: String?

    public init(status: RunStatus, finishedAt: Date, escalationLevel: Int, error: String?) {
        self.status = status
        self.finishedAt = finishedAt
        self.escalationLevel = escalationLevel
        self.error = error
    }
}

/// Where `runbook resume` starts a run again: at `startIndex`, the first step of the earlier run
/// that did not succeed, with what the steps before it did and gave.
public struct ResumePoint: Sendable {
    public struct Done: Sendable, Equatable {
        public var status: StepStatus
        public var outputs: [String: Value]

        public init(status: StepStatus, outputs: [String: Value]) {
            self.status = status
            self.outputs = outputs
        }
    }

    public var fromRun: Int64
    public var startIndex: Int
    /// By step id.
    public var done: [String: Done]

    public init(fromRun: Int64, startIndex: Int, done: [String: Done]) {
        self.fromRun = fromRun
        self.startIndex = startIndex
        self.done = done
    }
}
