import RunbookCore
import RunbookModel

/// Follows a run as it goes, for progress output. Calls arrive in order from the run's task.
public protocol RunObserver: Sendable {
    func runStarted(id: Int64, runbook: Runbook, trigger: Trigger)
    func attemptStarted(step: Step, attempt: Int)
    func stepFinished(step: Step, report: StepReport)
    func runFinished(report: RunReport)
}

/// What one step came to.
public struct StepReport: Sendable {
    public var id: String
    public var status: StepStatus
    public var attempts: Int
    public var duration: Duration
    public var error: String?
    public var output: String

    public init(id: String, status: StepStatus, attempts: Int, duration: Duration, error: String? = nil, output: String = "") {
        self.id = id
        self.status = status
        self.attempts = attempts
        self.duration = duration
        self.error = error
        self.output = output
    }
}

/// What a run came to.
public struct RunReport: Sendable {
    public var runID: Int64
    public var runbook: String
    public var status: RunStatus
    public var escalationLevel: Int
    public var error: String?
    public var steps: [StepReport]
}
