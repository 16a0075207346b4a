import Logging
import RunbookModel

/// What a running step can see and use beyond its inputs.
public struct StepContext: Sendable {
    public var runID: Int64
    public var runbook: String
    public var stepID: String
    /// The step's place in its runbook, from 0.
    public var stepIndex = 0
    public var attempt: Int
    /// The step's `timeout`, for a primitive that keeps it itself (`waitsForPeople`).
    public var timeout: Duration?
    /// Folder that relative paths are read against, and where commands start.
    public var workingDirectory: String
    /// Variables every command of the run receives (parameters, run id).
    public var environment: [String: String]
    public var clock: any Clock<Duration>
    /// The run's log; the executor's masks the run's secrets in every line.
    public var logger: Logger
    /// Evaluates conditions against the run's parameters and earlier outputs.
    public var evaluator: ExpressionEvaluator
    /// Builds nested primitives (`wait_until`'s `until`) with their inputs resolved.
    public var makeNested: @Sendable (NestedPrimitive) throws -> any StepPrimitive
    /// Starts another runbook as a child run (the `run` primitive).
    public var runChild: @Sendable (_ runbook: String, _ params: [String: String]) async throws -> ChildRun
    /// Services of the engine for primitives that act on it; the executor's escalation masks the run's secrets.
    public var services: EngineServices

    public init(
        runID: Int64, runbook: String, stepID: String, attempt: Int, workingDirectory: String,
        environment: [String: String], clock: any Clock<Duration>, logger: Logger, evaluator: ExpressionEvaluator,
        makeNested: @escaping @Sendable (NestedPrimitive) throws -> any StepPrimitive,
        runChild: @escaping @Sendable (String, [String: String]) async throws -> ChildRun, services: EngineServices = EngineServices()
    ) {
        self.services = services
        self.runID = runID
        self.runbook = runbook
        self.stepID = stepID
        self.attempt = attempt
        self.workingDirectory = workingDirectory
        self.environment = environment
        self.clock = clock
        self.logger = logger
        self.evaluator = evaluator
        self.makeNested = makeNested
        self.runChild = runChild
    }

    /// `path` made absolute against the working directory.
    public func resolvePath(_ path: String) -> String {
        path.hasPrefix("/") ? path : (workingDirectory as NSString).appendingPathComponent(path)
    }
}

/// The outcome of a child run started by a step.
public struct ChildRun: Sendable {
    public var runID: Int64
    public var status: String
    public var succeeded: Bool
    public var escalationLevel: Int

    public init(runID: Int64, status: String, succeeded: Bool, escalationLevel: Int = 0) {
        self.runID = runID
        self.status = status
        self.succeeded = succeeded
        self.escalationLevel = escalationLevel
    }
}

import Foundation
