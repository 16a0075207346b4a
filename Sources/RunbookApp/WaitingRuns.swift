import Foundation
import Logging
import RunbookCore
import RunbookExecutor
import RunbookModel
import ServiceLifecycle
import Synchronization

/// Takes up the runs left waiting at an `approve` step by a process that stopped (this engine
/// before a restart or a kill, or a `runbook run` killed while it waited): each goes on waiting
/// in this engine, for the same request until the same deadline, with the answers already given,
/// and goes on from there. A run that cannot be taken up (its runbook gone or changed at that
/// step, a secret parameter the records keep masked, a child run whose parent stopped with it)
/// is ended as failed, saying why.
struct WaitingRuns: Service {
    let store: any ApprovalStore & RunHistory & RunRecorder
    let launcher: RunLauncher
    let library: RunbookLibrary
    /// Records shared by engines (PostgreSQL): a process of another machine cannot be told dead
    /// from here, so a run of one is taken up only when the engine started it.
    let shared: Bool
    let logger: Logger
    var interval: Duration = .seconds(5)
    /// Runs this engine claimed but could not set going nor end (the records failed between):
    /// tried again at the next look, rather than left waiting under a live engine.
    private let claimed = ClaimedRuns()

    init(store: any ApprovalStore & RunHistory & RunRecorder, launcher: RunLauncher, library: RunbookLibrary, shared: Bool, logger: Logger) {
        self.store = store
        self.launcher = launcher
        self.library = library
        self.shared = shared
        self.logger = logger
    }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await takeUp()
                do { try await Task.sleep(for: interval) } catch { return }
            }
        }
    }

    /// One look at the waiting runs; returns the ids of those taken up.
    @discardableResult
    func takeUp() async -> [Int64] {
        let waiting: [ApprovalRequest]
        do {
            waiting = try await store.waitingApprovals()
        } catch {
            logger.warning("cannot read the runs waiting for approval: \(error)")
            return []
        }
        var taken: [Int64] = []
        let me = ProcessIdentity.current
        for request in waiting where request.owner == me ? claimed.contains(request.runID) : !ProcessIdentity.isAlive(request.owner) {
            do {
                if try await takeUp(request) { taken.append(request.runID) }
            } catch {
                logger.error("cannot take up run \(request.runID), waiting at step '\(request.stepID)': \(error)")
            }
        }
        return taken
    }

    private func takeUp(_ request: ApprovalRequest) async throws -> Bool {
        guard let run = try await store.run(id: request.runID) else { return false }
        let trigger = Trigger(rawValue: run.trigger) ?? .manual
        // `runbook run` on another machine may still be waiting in the foreground there.
        if shared, !ProcessIdentity.isOfThisBoot(request.owner), ![.check, .schedule, .api].contains(trigger) { return false }
        // Claimed first: of two engines looking, one takes it.
        guard try await store.adoptWaitingRun(run.id, from: request.owner) else { return false }
        claimed.insert(run.id)
        do {
            let going = try await goOn(run, request, trigger: trigger)
            claimed.remove(run.id)
            return going
        } catch {
            // Taken, but not going on: ended, rather than left waiting under this engine (and
            // tried again at the next look when even that cannot be written).
            let reason = "the run waited at step '\(request.stepID)' when its process stopped and could not be taken up again: \(error)"
            try await store.finishRun(run.id, RunOutcome(status: .failed, finishedAt: Date(), escalationLevel: run.escalationLevel, error: reason), completing: nil)
            claimed.remove(run.id)
            throw error
        }
    }

    private func goOn(_ run: RunRecord, _ request: ApprovalRequest, trigger: Trigger) async throws -> Bool {
        let now = Date()
        var attempts = try await store.attempts(runID: run.id)
        for attempt in attempts where attempt.status == StepStatus.running.rawValue {
            try await store.finishAttempt(FinishedAttempt(id: attempt.id, outcome: AttemptOutcome(
                status: .interrupted, finishedAt: now, duration: .milliseconds(Int64(max(0, now.timeIntervalSince(attempt.startedAt)) * 1000)),
                error: "the process running it stopped while it waited for approval; the engine took the wait up again"
            )))
        }
        attempts = try await store.attempts(runID: run.id)
        let runbook: Runbook
        let params: [String: Value]
        let point: ResumePoint
        do {
            // A child run (a `run` step's) belongs to its parent, which stopped with the process:
            // going on alone would skip what the parent does after it.
            if let parent = run.parentRunId {
                throw ResumeRefusal("it is a step of run \(parent), which stopped with it: `runbook resume \(parent)` once that is marked interrupted")
            }
            runbook = try library.resolve(run.runbook)
            guard runbook.steps.indices.contains(request.stepIndex), runbook.steps[request.stepIndex].id == request.stepID else {
                throw ResumeRefusal("runbook '\(run.runbook)' changed while the run waited: its step \(request.stepIndex + 1) is no longer '\(request.stepID)'. Run it again")
            }
            let given = run.parameters
            if let masked = runbook.params.first(where: { given[$0.name]?.contains(Secrets.mask) == true }) {
                throw ResumeRefusal("parameter '\(masked.name)' holds a secret, which the records keep masked: `runbook resume \(run.id) --param \(masked.name)=VALUE` once it has ended")
            }
            params = try ParamBinding.bind(given, to: runbook)
            point = try ResumePoint.of(run, attempts: attempts, runbook: runbook, confirmed: true)
            guard point.startIndex == request.stepIndex else {
                throw ResumeRefusal("its records do not end at step '\(request.stepID)'")
            }
        } catch {
            let reason = "the run waited at step '\(request.stepID)' when its process stopped and cannot be taken up again: \(error)"
            try await store.finishRun(run.id, RunOutcome(status: .failed, finishedAt: now, escalationLevel: run.escalationLevel, error: reason), completing: nil)
            logger.error("run \(run.id) of \(run.runbook): \(reason)")
            return false
        }
        let step = runbook.steps[request.stepIndex]
        if runbook.contentHash != run.contentHash {
            logger.warning("runbook '\(run.runbook)' changed while run \(run.id) waited: the steps after '\(step.id)' run as they are now", metadata: ["run": "\(run.id)"])
        }
        let attempt = (attempts.filter { $0.stepIndex == request.stepIndex }.map(\.attempt).max() ?? 0) + 1
        let key = switch trigger {
        case .check: "check:\(run.triggerSource ?? run.runbook)"
        case .schedule: "schedule:\(run.triggerSource ?? run.runbook)"
        default: run.runbook
        }
        launcher.continueWaiting(runbook, runID: run.id, params: params, trigger: trigger, at: point, attempt: attempt, key: key)
        logger.notice(
            "run \(run.id) of \(run.runbook) taken up again: it waits at step '\(step.id)' (asked \(ISO8601DateFormatter().string(from: request.requestedAt)), \(request.tally))",
            metadata: ["run": "\(run.id)", "runbook": "\(run.runbook)"]
        )
        return true
    }
}

/// The ids of runs claimed and not yet set going or ended.
private final class ClaimedRuns: Sendable {
    private let ids = Mutex<Set<Int64>>([])

    func insert(_ id: Int64) { _ = ids.withLock { $0.insert(id) } }
    func remove(_ id: Int64) { _ = ids.withLock { $0.remove(id) } }
    func contains(_ id: Int64) -> Bool { ids.withLock { $0.contains(id) } }
}
