import Foundation
import Logging
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
    private let state: Mutex<(status: Status, budget: RestartBudget<C>)>
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
        state = Mutex((Status(name: unit.name, state: .stopped, restarts: 0, lastError: nil, since: Date(), ports: unit.ports), RestartBudget(policy: policy)))
    }

    public var status: Status { state.withLock { $0.status } }

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
            let now = clock.now
            let (delay, used) = state.withLock { current -> (Duration?, Int) in
                let delay = current.budget.crashed(at: now, upSince: upSince)
                return (delay, current.budget.used(at: now))
            }
            set(.failed, error: reason, restarts: used)
            guard let delay else {
                logger.error("\(unit.name) gave up: \(policy.budget) restarts within \(policy.window) spent; last stop: \(reason)", metadata: ["service": "\(unit.name)"])
                set(.gaveUp)
                await waitForCancellation()
                return
            }
            logger.warning("\(unit.name) stopped: \(reason); restart \(used) of \(policy.budget) in \(delay)", metadata: ["service": "\(unit.name)"])
            do { try await clock.sleep(for: delay) } catch { break }
            failedRestart = await restart()
            upSince = clock.now
        }
        await unit.stop()
        set(.stopped)
    }

    /// Starts the unit again and checks that it is up with its own ports bound, and still up a
    /// moment later; the problem if not (the unit is stopped, and the restart counts as a crash).
    private func restart() async -> String? {
        set(.starting)
        do {
            try unit.start()
        } catch {
            return "restart failed: \(error)"
        }
        var waited = Duration.zero
        var problem = unit.verify()
        while problem != nil, waited < verifyTimeout {
            try? await clock.sleep(for: .milliseconds(100))
            waited += .milliseconds(100)
            problem = unit.verify()
        }
        if problem == nil {
            try? await clock.sleep(for: verifyGrace)
            problem = unit.verify()
        }
        if let problem {
            await unit.stop()
            return "restarted, but not verified within \(verifyTimeout): \(problem)"
        }
        set(.running)
        logger.info("\(unit.name) restarted and verified", metadata: ["service": "\(unit.name)"])
        return nil
    }

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
