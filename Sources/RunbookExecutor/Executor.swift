import Foundation
import Logging
import RunbookCore
import RunbookModel
import RunbookSteps

/// Runs a runbook's steps in order with their controls (`when`, `timeout`, `retries`,
/// `on_failure`) and records every run, step and attempt as it goes.
public struct Executor: Sendable {
    public var registry: StepRegistry
    public var recorder: any RunRecorder
    public var clock: any Clock<Duration>
    public var logger: Logger
    /// Folder that relative paths in steps are read against.
    public var workingDirectory: String
    /// Finds the runbooks that `run` steps and `on_failure: {run: ...}` start.
    public var lookup: @Sendable (String) throws -> Runbook
    public var observer: (any RunObserver)?
    /// Bytes of a step's output kept in its record.
    public var recordedOutputLimit: Int
    /// What the engine lends to steps (checks, restarts): empty outside `runbook up`.
    public var services = EngineServices()
    /// Whether a run cancelled now while it waits for people (an `approve` step) stays `waiting`
    /// in the records, for the engine to take up again when it starts: true while the engine
    /// stops. Any other cancellation (Ctrl-C, a schedule replacing the run) cancels the run.
    public var parksWaitingRuns: @Sendable () -> Bool = { false }

    public init(
        registry: StepRegistry, recorder: any RunRecorder, clock: any Clock<Duration> = ContinuousClock(),
        logger: Logger = Logger(label: "runbook"), workingDirectory: String = FileManager.default.currentDirectoryPath,
        lookup: @escaping @Sendable (String) throws -> Runbook, observer: (any RunObserver)? = nil, recordedOutputLimit: Int = 16 * 1024
    ) {
        self.registry = registry
        self.recorder = recorder
        self.clock = clock
        self.logger = logger
        self.workingDirectory = workingDirectory
        self.lookup = lookup
        self.observer = observer
        self.recordedOutputLimit = recordedOutputLimit
    }

    /// Runs `runbook` to its end, or until the calling task is cancelled. `recorded` is told the
    /// run's id once the run is in the records (or 0 when it could not be recorded).
    public func run(
        _ runbook: Runbook, params: [String: Value], trigger: Trigger, origin: RunOrigin? = nil, parentRunID: Int64? = nil,
        resume: ResumePoint? = nil, recorded: (@Sendable (Int64) -> Void)? = nil
    ) async -> RunReport {
        await run(runbook, params: params, trigger: trigger, origin: origin, parentRunID: parentRunID, secrets: Secrets.forRun(), resume: resume, recorded: recorded)
    }

    /// Takes up run `runID`, recorded as waiting at step `at.startIndex` by a process that
    /// stopped: the steps before it are not run again (their records stand, their outputs are
    /// what the steps after see), and the waiting step starts again as attempt `attempt`.
    public func continueWaiting(_ runbook: Runbook, runID: Int64, params: [String: Value], trigger: Trigger, at point: ResumePoint, attempt: Int) async -> RunReport {
        await run(runbook, params: params, trigger: trigger, origin: nil, parentRunID: nil, secrets: Secrets.forRun(), resume: point, continuing: (runID, attempt), recorded: nil)
    }

    /// A run whose records, log and messages mask `secrets` (a parent run's, which its child
    /// runs share) with the runbook's secret parameters added.
    private func run(
        _ runbook: Runbook, params: [String: Value], trigger: Trigger, origin: RunOrigin?, parentRunID: Int64?, secrets: Secrets,
        resume: ResumePoint? = nil, continuing: (runID: Int64, attempt: Int)? = nil, recorded: (@Sendable (Int64) -> Void)?
    ) async -> RunReport {
        secrets.addSecretParams(of: runbook, params)
        let logger = MaskingLogHandler.logger(self.logger, masking: secrets)
        let start = RunStart(
            runbook: runbook.name, contentHash: runbook.contentHash, trigger: trigger, origin: origin,
            params: secrets.recordable(params, of: runbook), parentRunID: parentRunID, startedAt: Date()
        )
        let runID: Int64
        do {
            if let continuing {
                runID = continuing.runID
            } else {
                runID = try await recorder.startRun(start)
            }
        } catch {
            let message = "cannot record the run, so it did not start: \(error)"
            logger.error("\(message)", metadata: ["runbook": "\(runbook.name)"])
            recorded?(0)
            return RunReport(runID: 0, runbook: runbook.name, status: .failed, escalationLevel: 0, error: message, steps: [])
        }
        recorded?(runID)
        observer?.runStarted(id: runID, runbook: runbook, trigger: trigger)

        var state = RunState(runID: runID, runbook: runbook.name, trigger: trigger, params: params)
        var reports: [StepReport] = []
        var status = RunStatus.succeeded
        var escalation = 0
        var runError: String?
        // The end of the last attempt, written together with whatever the run records next.
        var pending: FinishedAttempt?

        for (index, step) in runbook.steps.enumerated() {
            // Resumed: the steps the earlier run got through are not run again; what they gave
            // is what the steps after them see.
            if let resume, index < resume.startIndex {
                let done = resume.done[step.id] ?? ResumePoint.Done(status: .skipped, outputs: [:])
                state.statuses[step.id] = done.status
                state.outputs[step.id] = done.outputs
                // Taken up again: the steps before are in this run's records already.
                if continuing != nil { continue }
                let note = "\(done.status.rawValue) in run \(resume.fromRun); not run again"
                await record("carry step \(step.id)") {
                    let id = try await recorder.startAttempt(
                        AttemptStart(runID: runID, stepIndex: index, stepID: step.id, primitive: step.primitive, attempt: 0, startedAt: Date()), completing: pending
                    )
                    pending = FinishedAttempt(id: id, outcome: AttemptOutcome(
                        status: done.status, finishedAt: Date(), duration: .zero, output: note, outputs: Value.recorded(secrets.masking(done.outputs))
                    ))
                }
                reports.append(StepReport(id: step.id, status: done.status, attempts: 0, duration: .zero, output: note))
                continue
            }
            if Task.isCancelled {
                status = .cancelled
                runError = "cancelled before step '\(step.id)'"
                break
            }
            let firstAttempt = index == resume?.startIndex ? continuing?.attempt ?? 1 : 1
            // A child run (a `run` step's) ends with its parent, which is not taken up again.
            let outcome = await execute(
                step, index: index, firstAttempt: firstAttempt, parks: parentRunID == nil, state: state, secrets: secrets, logger: logger, pending: &pending
            )
            if outcome.parked {
                // The wait stays in the records, the run `waiting`: the engine takes it up when it starts.
                logger.notice("run \(runID) left waiting at step '\(step.id)' as the engine stops", metadata: ["runbook": "\(runbook.name)", "run": "\(runID)"])
                return RunReport(runID: runID, runbook: runbook.name, status: .waiting, escalationLevel: escalation, error: nil, steps: reports)
            }
            reports.append(outcome.report)
            observer?.stepFinished(step: step, report: outcome.report)
            state.statuses[step.id] = outcome.report.status
            state.outputs[step.id] = outcome.outputs
            escalation = max(escalation, outcome.childEscalation)

            switch outcome.report.status {
            case .cancelled, .interrupted:
                status = .cancelled
                runError = "cancelled during step '\(step.id)'"
            case .failed:
                let reason = "step '\(step.id)' failed: \(outcome.report.error ?? "no reason given")"
                switch step.onFailure {
                case .continue:
                    logger.warning("\(reason); continuing", metadata: ["runbook": "\(runbook.name)", "run": "\(runID)"])
                    continue
                case .abort:
                    status = .failed
                    runError = reason
                case .escalate(let level):
                    status = .failed
                    escalation = max(escalation, level)
                    runError = "\(reason); escalated to level \(level)"
                case .run(let recovery):
                    status = .failed
                    runError = reason
                    await flush(&pending)
                    let child = await runChild(recovery, params: [:], parent: runID, secrets: secrets)
                    escalation = max(escalation, child.escalationLevel)
                    runError! += "; recovery runbook '\(recovery)' \(child.status) (run \(child.runID))"
                }
            default:
                continue
            }
            break
        }

        let report = RunReport(runID: runID, runbook: runbook.name, status: status, escalationLevel: escalation, error: runError.map(secrets.mask), steps: reports)
        await record("finish run \(runID)") {
            try await recorder.finishRun(runID, RunOutcome(status: status, finishedAt: Date(), escalationLevel: escalation, error: report.error), completing: pending)
        }
        observer?.runFinished(report: report)
        return report
    }

    private struct StepOutcome {
        var report: StepReport
        var outputs: [String: Value]
        var childEscalation = 0
        /// Stopped while it waited for people as the engine stops, the run left `waiting` (`parksWaitingRuns`).
        var parked = false
    }

    private func execute(_ step: Step, index: Int, firstAttempt: Int = 1, parks: Bool = false, state: RunState, secrets: Secrets, logger: Logger, pending: inout FinishedAttempt?) async -> StepOutcome {
        let evaluator = state.evaluator
        let stopwatch = clock.stopwatch()
        /// A step that fails before it can act (its condition or inputs) is recorded as one failed attempt.
        func failedBeforeStart(_ message: String) async -> StepOutcome {
            let error = secrets.mask(message)
            await record("record step \(step.id)") {
                let id = try await recorder.startAttempt(
                    AttemptStart(runID: state.runID, stepIndex: index, stepID: step.id, primitive: step.primitive, attempt: 1, startedAt: Date()),
                    completing: pending
                )
                pending = FinishedAttempt(id: id, outcome: AttemptOutcome(status: .failed, finishedAt: Date(), duration: stopwatch(), error: error))
            }
            return StepOutcome(report: StepReport(id: step.id, status: .failed, attempts: 1, duration: stopwatch(), error: error), outputs: [:])
        }

        if let condition = step.when {
            do {
                guard try evaluator.evaluate(condition.expression).isTruthy else {
                    await record("skip step \(step.id)") {
                        _ = try await recorder.startAttempt(
                            AttemptStart(runID: state.runID, stepIndex: index, stepID: step.id, primitive: step.primitive, attempt: 0, startedAt: Date(), skipped: true),
                            completing: pending
                        )
                    }
                    pending = nil
                    return StepOutcome(report: StepReport(id: step.id, status: .skipped, attempts: 0, duration: .zero, output: "skipped: `\(condition.text)` is false"), outputs: [:])
                }
            } catch {
                return await failedBeforeStart("condition `\(condition.text)` could not be evaluated: \(error.description)")
            }
        }

        // Before the step acts, so that whatever it writes of a value derived from a secret is masked.
        secrets.addDerived(from: step.inputs, with: evaluator)
        let primitive: any StepPrimitive
        do {
            primitive = try registry.make(step.primitive, inputs: try InputResolver.resolve(step.inputs, with: evaluator))
        } catch {
            return await failedBeforeStart(error.description)
        }

        let waitsForPeople = type(of: primitive).spec.waitsForPeople
        let attempts = waitsForPeople ? 1 : step.retries.count + 1
        var last = StepOutcome(report: StepReport(id: step.id, status: .failed, attempts: 0, duration: .zero, error: "no attempt ran"), outputs: [:])
        var childEscalation = 0
        for attempt in firstAttempt...(firstAttempt + attempts - 1) {
            if attempt > firstAttempt {
                await flush(&pending)
                do {
                    try await clock.sleep(for: step.retries.delay(beforeAttempt: attempt - firstAttempt + 1))
                } catch {
                    last.report.status = .cancelled
                    return last
                }
            }
            observer?.attemptStarted(step: step, attempt: attempt)
            var attemptID: Int64?
            await record("start step \(step.id)") {
                attemptID = try await recorder.startAttempt(
                    AttemptStart(runID: state.runID, stepIndex: index, stepID: step.id, primitive: step.primitive, attempt: attempt, startedAt: Date()),
                    completing: pending
                )
            }
            pending = nil
            let attemptClock = clock.stopwatch()
            var context = StepContext(
                runID: state.runID, runbook: state.runbook, stepID: step.id, attempt: attempt, workingDirectory: workingDirectory,
                environment: state.environment.merging(["RUNBOOK_STEP": step.id]) { $1 }, clock: clock, logger: logger, evaluator: evaluator,
                makeNested: { [registry] nested in try registry.make(nested.name, inputs: try InputResolver.resolve(nested.inputs, with: evaluator)) },
                runChild: { name, params in
                    let child = await runChild(name, params: params, parent: state.runID, secrets: secrets)
                    return ChildRun(runID: child.runID, status: child.status.rawValue, succeeded: child.status == .succeeded, escalationLevel: child.escalationLevel)
                },
                services: MaskingEscalation.services(services, masking: secrets)
            )
            context.stepIndex = index
            context.timeout = step.timeout

            var outcome: AttemptOutcome
            var outputs: [String: Value] = [:]
            do {
                let result = try await attemptWithTimeout(primitive, context: context, timeout: waitsForPeople ? nil : step.timeout)
                outputs = result.outputs
                outcome = AttemptOutcome(
                    status: .succeeded, finishedAt: Date(), duration: attemptClock(), exitCode: result.exitCode, output: bounded(secrets.mask(result.output)),
                    outputs: Value.recorded(secrets.masking(outputs))
                )
            } catch let failure as StepFailure {
                outputs = failure.outputs
                let status: StepStatus = Task.isCancelled ? .cancelled : .failed
                // What a failed step gives is kept too: the steps after an `on_failure: continue` see it, after a resume as well.
                outcome = AttemptOutcome(
                    status: status, finishedAt: Date(), duration: attemptClock(), exitCode: failure.exitCode, output: bounded(secrets.mask(failure.output)),
                    error: secrets.mask(failure.message), outputs: outputs.isEmpty ? nil : Value.recorded(secrets.masking(outputs))
                )
            } catch is StepParked {
                // Asked as the step stops: whether the engine is stopping is known only then.
                if parks && parksWaitingRuns() {
                    last.parked = true
                    return last
                }
                outcome = AttemptOutcome(status: .cancelled, finishedAt: Date(), duration: attemptClock(), error: "cancelled while it waited for approval")
            } catch let timeout as StepTimeout {
                outcome = AttemptOutcome(status: .failed, finishedAt: Date(), duration: attemptClock(), error: timeout.description)
            } catch {
                let cancelled = Task.isCancelled || error is CancellationError
                outcome = AttemptOutcome(status: cancelled ? .cancelled : .failed, finishedAt: Date(), duration: attemptClock(), error: cancelled ? "cancelled" : secrets.mask("\(error)"))
            }
            pending = attemptID.map { FinishedAttempt(id: $0, outcome: outcome) }
            if case .number(let level)? = outputs["escalation_level"] { childEscalation = max(childEscalation, Int(level)) }
            last = StepOutcome(
                report: StepReport(id: step.id, status: outcome.status, attempts: attempt, duration: stopwatch(), error: outcome.error, output: outcome.output),
                outputs: outputs, childEscalation: childEscalation
            )
            if outcome.status != .failed || Task.isCancelled { break }
        }
        return last
    }

    private func attemptWithTimeout(_ primitive: any StepPrimitive, context: StepContext, timeout: Duration?) async throws -> StepResult {
        guard let timeout else { return try await primitive.run(in: context) }
        let clock = self.clock
        return try await withThrowingTaskGroup(of: StepResult?.self) { group in
            group.addTask { try await primitive.run(in: context) }
            group.addTask {
                try await clock.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let result = first else {
                throw StepTimeout(timeout: timeout)
            }
            return result
        }
    }

    /// A child run shares its parent's secrets: a value the parent derived from a secret is
    /// masked in the child whatever the child calls it, and so is what the child makes of it
    /// (a parameter's text read as a number: "007" becomes 7).
    private func runChild(_ name: String, params raw: [String: String], parent: Int64, secrets: Secrets) async -> RunReport {
        do {
            let runbook = try lookup(name)
            if runbook.requiresConfirmation {
                return RunReport(runID: 0, runbook: name, status: .failed, escalationLevel: 0, error: "runbook '\(name)' requires a person's confirmation: it cannot run as a step of another runbook", steps: [])
            }
            let params = try ParamBinding.bind(raw, to: runbook)
            for (param, text) in raw where secrets.reveals(text) {
                if let value = params[param] { secrets.addDerived(value.text) }
            }
            return await run(runbook, params: params, trigger: .runbook, origin: nil, parentRunID: parent, secrets: secrets, recorded: nil)
        } catch {
            return RunReport(runID: 0, runbook: name, status: .failed, escalationLevel: 0, error: secrets.mask("\(error)"), steps: [])
        }
    }

    private func bounded(_ text: String) -> String {
        var output = BoundedOutput(limit: recordedOutputLimit)
        output.append(Array(text.utf8))
        return output.text
    }

    /// Writes a waiting attempt end now, before the run spends time on anything else.
    private func flush(_ pending: inout FinishedAttempt?) async {
        guard let finished = pending else { return }
        await record("finish step attempt \(finished.id)") { try await recorder.finishAttempt(finished) }
        pending = nil
    }

    /// Records through the recorder; a records failure is logged and the run goes on, since
    /// stopping a recovery half-way because its history cannot be written would do more harm.
    private func record(_ what: String, _ body: () async throws -> Void) async {
        do {
            try await body()
        } catch {
            logger.error("cannot record: \(what): \(error)")
        }
    }
}

/// A step that ran past its timeout; its process group has been stopped.
public struct StepTimeout: Error, Sendable, CustomStringConvertible {
    public var timeout: Duration
    public var description: String { "timed out after \(DurationText.format(timeout))" }
}
