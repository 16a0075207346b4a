import Foundation
import Logging
import RunbookCore
import RunbookModel
import Synchronization

/// Keeps one unit running under its restart policy: a crash is followed by a wait, a restart and
/// a check that the unit's ports are bound again; a spent budget ends in `gave-up`.
public final class Supervisor<C: Clock>: Sendable where C.Duration == Duration {
    public struct Status: Sendable {
        public var name: String
        public var state: ServiceState
        public var restarts: Int
        public var lastError: String?
        public var since: Date
        public var ports: [Int]
    }

    public let unit: any SupervisedUnit
    public let policy: RestartPolicy
    private let clock: C
    private let logger: Logger
    /// The status, the restart budget and the restarts asked for (`restartNow`), under one lock so
    /// that a request is never added after the last answer.
    private let state: Mutex<(status: Status, budget: RestartBudget<C>, requests: [CheckedContinuation<String?, Never>])>
    /// Told about every state change (metrics, escalation, state files).
    private let onChange: @Sendable (Status) -> Void

    public init(
        unit: any SupervisedUnit, policy: RestartPolicy, clock: C, logger: Logger,
        onChange: @escaping @Sendable (Status) -> Void = { _ in }
    ) {
        self.unit = unit
        self.policy = policy
        self.clock = clock
        self.logger = logger
        self.onChange = onChange
        state = Mutex((Status(name: unit.name, state: .stopped, restarts: 0, lastError: nil, since: Date(), ports: unit.ports), RestartBudget(policy: policy), []))
    }

    public var status: Status { state.withLock { $0.status } }

    /// Restarts within the policy's window, as of now.
    public var restartsInWindow: Int {
        let now = clock.now
        return state.withLock { $0.budget.used(at: now) }
    }

    private func set(_ newState: ServiceState, error: String? = nil, restarts: Int? = nil) {
        let status = state.withLock { current -> Status in
            current.status.state = newState
            current.status.since = Date()
            if let error { current.status.lastError = error }
            if let restarts { current.status.restarts = restarts }
            return current.status
        }
        onChange(status)
    }

    /// Starts the unit for the first time; a failure here is returned, not retried, so that
    /// `up` can refuse to start (a port already in use, say).
    public func startFirst() throws {
        set(.starting)
        do {
            try unit.start()
        } catch {
            set(.failed, error: "\(error)")
            throw error
        }
        set(.running)
    }

    /// Supervises until cancelled; the unit must have been started with `startFirst`.
    public func supervise() async {
        var upSince = clock.now
        var failedRestart: String?
        while !Task.isCancelled {
            let reason: String
            if let failure = failedRestart {
                reason = failure
                failedRestart = nil
            } else {
                reason = await withTaskCancellationHandler {
                    await unit.finished()
                } onCancel: {
                    Task { await self.unit.stop() }
                }
            }
            if Task.isCancelled { break }
            // Stopped on purpose for a restart asked for: started again at once.
            if state.withLock({ !$0.requests.isEmpty }) {
                failedRestart = await restart()
                answerRequests(failedRestart)
                upSince = clock.now
                continue
            }
            let now = clock.now
            let (delay, used) = state.withLock { current -> (Duration?, Int) in
                let delay = current.budget.crashed(at: now, upSince: upSince)
                return (delay, current.budget.used(at: now))
            }
            set(.failed, error: reason, restarts: used)
            guard let delay else {
                logger.error("\(unit.name) gave up: \(policy.budget) restarts within \(policy.window) spent; last stop: \(reason)", metadata: ["service": "\(unit.name)"])
                set(.gaveUp)
                answerRequests("\(unit.name) gave up: its restart budget is spent")
                await waitForCancellation()
                return
            }
            logger.warning("\(unit.name) stopped: \(reason); restart \(used) of \(policy.budget) in \(delay)", metadata: ["service": "\(unit.name)"])
            // A restart asked for during the wait cuts it short.
            guard await pause(delay) else { break }
            failedRestart = await restart()
            answerRequests(failedRestart)
            upSince = clock.now
        }
        await unit.stop()
        set(.stopped)
        answerRequests("\(unit.name) stopped: the engine is shutting down")
    }

    /// Restarts the unit now, for a runbook or an operator: the restart counts against the budget
    /// (refused when it is spent) and is verified as a crash's restart is. Nil when the unit is
    /// running again and verified; otherwise why not.
    public func restartNow() async -> String? {
        let now = clock.now
        return await withCheckedContinuation { continuation in
            let plan = state.withLock { current -> Plan in
                switch current.status.state {
                case .gaveUp: return .refuse("\(unit.name) gave up: its restart budget (\(policy.budget) within \(DurationText.format(policy.window))) is spent")
                case .stopped: return .refuse("\(unit.name) is stopped")
                default: break
                }
                // Asked for again before the first was answered: one restart answers both, and
                // takes one slot of the budget.
                if !current.requests.isEmpty {
                    current.requests.append(continuation)
                    return .wait
                }
                if current.status.state == .running {
                    guard current.budget.requested(at: now) else {
                        return .refuse("the restart budget of \(unit.name) is spent: \(policy.budget) restarts within \(DurationText.format(policy.window))")
                    }
                    current.requests.append(continuation)
                    return .stop
                }
                // Failed and waiting (the crash took its slot: the wait is cut short), or starting:
                // the restart under way answers.
                current.requests.append(continuation)
                return .wait
            }
            switch plan {
            case .refuse(let reason): continuation.resume(returning: reason)
            case .stop: Task { await unit.stop() }
            case .wait: break
            }
        }
    }

    /// What a restart asked for leads to.
    private enum Plan { case refuse(String), stop, wait }

    /// Answers every restart asked for: nil when the unit is up and verified, else the problem.
    private func answerRequests(_ problem: String?) {
        let waiting = state.withLock { current in
            defer { current.requests = [] }
            return current.requests
        }
        for continuation in waiting { continuation.resume(returning: problem) }
    }

    /// Waits `delay` before a restart, or less when a restart is asked for; false when cancelled.
    private func pause(_ delay: Duration) async -> Bool {
        let clock = self.clock
        let woken = await withTaskGroup(of: Bool.self) { group in
            group.addTask { (try? await clock.sleep(for: delay)) != nil }
            // A restart asked for is looked for a few times a second, on real time.
            group.addTask {
                while !Task.isCancelled {
                    if self.state.withLock({ !$0.requests.isEmpty }) { return true }
                    try? await Task.sleep(for: .milliseconds(50))
                }
                return false
            }
            let first = await group.next() ?? false
            group.cancelAll()
            return first
        }
        return woken && !Task.isCancelled
    }

    /// Starts the unit again and checks that it is up with its own ports bound, and still up a
    /// moment later; the problem if not (the unit is stopped, and the restart counts as a crash).
    private func restart() async -> String? {
        set(.starting)
        // The stopped unit's sockets are released by the system a moment after it stops (libzmq
        // closes them on its own thread), so a start right after a stop may find its port still
        // taken: it is tried again for a short while, on real time.
        var attempt = 0
        while true {
            do {
                try unit.start()
                break
            } catch {
                attempt += 1
                if attempt >= Self.startAttempts || Task.isCancelled { return "restart failed: \(error)" }
                try? await Task.sleep(for: .milliseconds(50))
            }
        }
        // Up with its ports bound, and still so after the grace period; a unit that was up and
        // then was not (a port seen a moment too early) is given the rest of the time.
        var waited = Duration.zero
        while true {
            var problem = unit.verify()
            if problem == nil {
                try? await clock.sleep(for: verifyGrace)
                waited += verifyGrace
                problem = unit.verify()
                if problem == nil { break }
            }
            if let problem, waited >= verifyTimeout || Task.isCancelled {
                await unit.stop()
                return "restarted, but not verified within \(verifyTimeout): \(problem)"
            }
            try? await clock.sleep(for: .milliseconds(100))
            waited += .milliseconds(100)
        }
        set(.running)
        logger.info("\(unit.name) restarted and verified", metadata: ["service": "\(unit.name)"])
        return nil
    }

    /// Starts tried, 50 ms apart, before a restart counts as failed.
    static var startAttempts: Int { 40 }

    /// How long a restarted unit has to come up with its ports bound.
    public var verifyTimeout: Duration { .seconds(10) }
    /// How long it must then stay up for the restart to count as verified.
    public var verifyGrace: Duration { .seconds(1) }

    private func waitForCancellation() async {
        while !Task.isCancelled {
            try? await clock.sleep(for: .seconds(3600))
        }
    }
}
