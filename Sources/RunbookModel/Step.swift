/// One step of a runbook: a primitive with its inputs and the controls around it.
public struct Step: Sendable {
    public var id: String
    public var name: String?
    public var primitive: String
    public var inputs: Inputs
    public var when: Condition?
    public var timeout: Duration?
    public var retries: RetryPolicy
    public var onFailure: FailurePolicy
    /// Outputs the step declares beyond its primitive's own.
    public var outputs: [String]
    public var location: SourceLocation
    /// Runbooks this step starts (literal `runbook:` inputs of `run` steps, nested ones included).
    public var runbookReferences: [RunbookReference]

    public init(
        id: String, name: String? = nil, primitive: String, inputs: Inputs, when: Condition? = nil,
        timeout: Duration? = nil, retries: RetryPolicy = .none, onFailure: FailurePolicy = .abort,
        outputs: [String] = [], location: SourceLocation, runbookReferences: [RunbookReference] = []
    ) {
        self.id = id
        self.name = name
        self.primitive = primitive
        self.inputs = inputs
        self.when = when
        self.timeout = timeout
        self.retries = retries
        self.onFailure = onFailure
        self.outputs = outputs
        self.location = location
        self.runbookReferences = runbookReferences
    }
}

/// A runbook named by another one, with where it is named and the parameters passed to it.
public struct RunbookReference: Sendable {
    public var name: String
    public var location: SourceLocation
    /// Names of the parameters given; nil for a recovery runbook (`on_failure: {run: ...}`), which gets none.
    public var params: [String]?

    public init(name: String, location: SourceLocation, params: [String]? = nil) {
        self.name = name
        self.location = location
        self.params = params
    }
}

/// A `when` condition with the text it was written as.
public struct Condition: Sendable {
    public var expression: Expression
    public var text: String
    /// Where the expression text starts.
    public var location: SourceLocation

    public init(expression: Expression, text: String, location: SourceLocation) {
        self.expression = expression
        self.text = text
        self.location = location
    }
}

/// How often a failed step is tried again and how long to wait in between.
public struct RetryPolicy: Sendable, Equatable {
    /// Retries after the first attempt.
    public var count: Int
    public var initialDelay: Duration
    public var maxDelay: Duration

    public static let none = RetryPolicy(count: 0)

    public init(count: Int, initialDelay: Duration = .seconds(1), maxDelay: Duration = .seconds(30)) {
        self.count = count
        self.initialDelay = initialDelay
        self.maxDelay = maxDelay
    }

    /// The delay before attempt `attempt` (2, 3, ...): initial, doubled each time, capped at max.
    public func delay(beforeAttempt attempt: Int) -> Duration {
        let exponent = min(max(0, attempt - 2), 30)
        let delay = initialDelay * (1 << exponent)
        return min(delay, maxDelay)
    }
}

/// What a run does when a step fails after its retries.
public enum FailurePolicy: Sendable, Equatable {
    /// Stop the run; it fails.
    case abort
    /// Go on with the next step; the run can still succeed.
    case `continue`
    /// Record escalation level N on the run and stop it.
    case escalate(Int)
    /// Start another runbook (a recovery), then stop this run as failed.
    case run(String)
}
