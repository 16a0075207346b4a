import Foundation
import Logging
import RunbookModel
import ServiceLifecycle

/// Fires schedules: sleeps on a clock until the next fire, marks the fire as handled in the state
/// store, then starts its run, honouring each schedule's catch-up and overlap policies.
///
/// Fire times are wall-clock instants (`now`); the clock only measures the waits, so tests drive
/// the scheduler with a test clock and a wall time derived from it, without sleeping. A wait never
/// lasts longer than `Settings.recheckEvery`, so a jump of the system clock is noticed: fires it
/// skipped are handled as missed.
public actor Scheduler<C: Clock>: Service where C.Duration == Duration {
    public struct Settings: Sendable {
        /// A fire handled later than this after its time (plus its jitter) counts as missed.
        public var lateAfter: Duration
        /// The longest wait before the wall clock is read again.
        public var recheckEvery: Duration

        public init(lateAfter: Duration = .seconds(60), recheckEvery: Duration = .seconds(60)) {
            self.lateAfter = lateAfter
            self.recheckEvery = recheckEvery
        }
    }

    /// One schedule's state: its mark, its next fire, its run and the fires waiting for it.
    private struct Lane {
        let schedule: Schedule
        let times: FireTimes
        var handledThrough: Date
        var next: Date?
        /// `next` plus its jitter: when the scheduler acts on it.
        var wake: Date?
        var running: (any ScheduledRun)?
        var waiting: [Date] = []
    }

    private let state: any SchedulerStateStore
    private let starter: any ScheduledRunStarter
    private let clock: C
    private let now: @Sendable () -> Date
    private let jitter: @Sendable (Duration) -> Duration
    private let settings: Settings
    private let logger: Logger
    private var lanes: [String: Lane] = [:]
    private var stopping = false
    private let leavesRunsWhenCancelled: Bool
    private let missed: (any MissedFireAlerts)?
    /// The last alert handed over: each next one waits for it, so they arrive in order.
    private var alertsTail: Task<Void, Never>?

    /// `jitter` picks a fire's delay up to the schedule's `jitter`; random by default.
    public init(
        schedules: [Schedule], market: MarketCalendar, state: any SchedulerStateStore, starter: any ScheduledRunStarter, clock: C,
        now: @escaping @Sendable () -> Date = Date.init, jitter: @escaping @Sendable (Duration) -> Duration = Scheduler.randomJitter,
        settings: Settings = Settings(), leavesRunsWhenCancelled: Bool = false, missed: (any MissedFireAlerts)? = nil, logger: Logger
    ) {
        self.missed = missed
        self.leavesRunsWhenCancelled = leavesRunsWhenCancelled
        self.state = state
        self.starter = starter
        self.clock = clock
        self.now = now
        self.jitter = jitter
        self.settings = settings
        self.logger = logger
        let distantPast = Date.distantPast
        for schedule in schedules {
            lanes[schedule.name] = Lane(schedule: schedule, times: FireTimes(schedule, market: market), handledThrough: distantPast)
        }
    }

    public static func randomJitter(_ limit: Duration) -> Duration {
        limit <= .zero ? .zero : .milliseconds(Int64.random(in: 0...limit.milliseconds))
    }

    /// Fires schedules until the service group shuts down, then cancels the runs still going and
    /// waits for them to record their end.
    /// With `leavesRunsWhenCancelled`, cancelled without a shutdown (its engine stopped leading
    /// its fleet), it stops firing and leaves the runs it started to finish: their fires are
    /// marked dealt with, and no other engine would run them again.
    public func run() async throws {
        let loop: @Sendable () async -> Void = { await self.fireUntilCancelled() }
        await cancelWhenGracefulShutdown(loop)
        if !leavesRunsWhenCancelled || Task.isShuttingDownGracefully { await stopRuns() }
    }

    private func fireUntilCancelled() async {
        await missed?.schedulesAre(Set(lanes.keys))
        await loadMarks()
        var startup = true
        while !Task.isCancelled {
            let current = now()
            for name in lanes.keys.sorted() {
                if let wake = lanes[name]?.wake, wake <= current { await handleDue(name, now: current, startup: startup) }
            }
            startup = false
            let after = now()
            let nextWake = lanes.values.compactMap(\.wake).min()
            var wait = settings.recheckEvery
            if let nextWake { wait = min(wait, .microseconds(Int64((nextWake.timeIntervalSince(after) * 1e6).rounded(.up)))) }
            if wait > .zero {
                do { try await clock.sleep(for: wait) } catch { return }
            }
        }
    }

    /// Reads the marks; a schedule seen for the first time is marked now: nothing before it is owed.
    private func loadMarks() async {
        let stored: [String: Date]
        let readable: Bool
        do {
            stored = try await state.handledThrough()
            readable = true
        } catch {
            logger.error("cannot read the scheduler's state, so fires missed while the engine was down are not caught up: \(error)")
            stored = [:]
            readable = false
        }
        let current = now()
        for name in lanes.keys.sorted() {
            if let mark = stored[name] {
                lanes[name]?.handledThrough = mark
                if mark > current {
                    logger.warning("the last fire handled, \(Self.text(mark)), is in the future (was the clock set back?): fires until then do not run", metadata: ["schedule": "\(name)"])
                }
            } else {
                lanes[name]?.handledThrough = current
                // Unread is not unknown: a mark the store holds stays until a fire moves it.
                if readable { await persist(name, through: current) }
            }
            planNext(name)
            if let mark = stored[name] { await runUnstarted(name, markedThrough: mark, now: current) }
            if let next = lanes[name]?.next { logger.info("next fire at \(Self.text(next))", metadata: ["schedule": "\(name)"]) }
        }
    }

    /// The fires a mark stands for, run now when their runs were never recorded: the engine that
    /// marked them stopped (a crash, a kill, a fleet's leader dying) before it could start them.
    /// With `catch_up: latest`, the marked fire; with `all`, every fire back to the last one that
    /// ran, within the window. Not for `catch_up: none`.
    private func runUnstarted(_ name: String, markedThrough mark: Date, now current: Date) async {
        guard let lane = lanes[name], lane.schedule.catchUp != .none else { return }
        let window = lane.schedule.catchUpWindow.seconds
        let fires = lane.times.fires(after: max(mark.addingTimeInterval(-window), current.addingTimeInterval(-window)), through: mark)
        guard fires.last == mark else { return }
        var unstarted: [Date] = []
        do {
            for fire in fires.suffix(lane.schedule.catchUp == .all ? 100 : 1).reversed() {
                if try await state.runRecorded(name, dueAt: fire) { break }
                unstarted.insert(fire, at: 0)
            }
        } catch {
            logger.error("cannot tell whether the last fire marked, \(Self.text(mark)), ran: \(error)", metadata: ["schedule": "\(name)"])
            return
        }
        guard !unstarted.isEmpty else { return }
        logger.warning(
            "fire(s) at \(unstarted.map(Self.text).joined(separator: ", ")) were marked but their runs never started (the engine stopped in between): they run now",
            metadata: ["schedule": "\(name)"]
        )
        submit(name, unstarted)
    }

    private func planNext(_ name: String) {
        guard var lane = lanes[name] else { return }
        lane.next = lane.times.next(after: lane.handledThrough)
        lane.wake = lane.next.map { $0.addingTimeInterval(jitter(lane.schedule.jitter).seconds) }
        if lane.next == nil { logger.warning("schedule has no fire within the years ahead", metadata: ["schedule": "\(name)"]) }
        lanes[name] = lane
    }

    /// What writing a mark did.
    private enum Marked {
        case moved
        /// Another engine of a fleet had already dealt with that fire.
        case dealtWithElsewhere
        /// The records did not take it: the fire is tried again.
        case notWritten
    }

    /// Moves the mark to `instant`.
    @discardableResult
    private func persist(_ name: String, through instant: Date) async -> Marked {
        do {
            guard try await state.setHandled(name, through: instant) else {
                logger.notice("the fire at \(Self.text(instant)) was already dealt with elsewhere: its run does not start here", metadata: ["schedule": "\(name)"])
                return .dealtWithElsewhere
            }
            return .moved
        } catch {
            logger.error(
                "cannot record the fire at \(Self.text(instant)) in the scheduler's state, so its run does not start yet: \(error); tried again in \(DurationText.format(Self.markRetry)), then run as catch_up says",
                metadata: ["schedule": "\(name)"]
            )
            return .notWritten
        }
    }

    /// How soon a fire whose mark the records did not take is tried again.
    static var markRetry: Duration { .seconds(5) }

    /// Deals with every fire of `name` that came due: marks them, then runs those the policies allow.
    private func handleDue(_ name: String, now current: Date, startup: Bool) async {
        guard let lane = lanes[name], let next = lane.next, let wake = lane.wake else { return }
        let schedule = lane.schedule
        let metadata: Logger.Metadata = ["schedule": "\(name)", "runbook": "\(schedule.runbook)"]
        // Fires too old to run under any policy are not listed; one warning says they were passed over.
        let horizon = max(schedule.catchUpWindow, settings.lateAfter + schedule.jitter)
        let from = max(lane.handledThrough, current.addingTimeInterval(-horizon.seconds))
        let due = lane.times.fires(after: from, through: current)
        if next <= from {
            logger.warning("fires since \(Self.text(next)) are older than catch_up_window and do not run", metadata: metadata)
            if due.isEmpty {
                tellMissed(schedule, [next], "the engine was not running then, and fires since are older than catch_up_window (\(DurationText.format(schedule.catchUpWindow)))")
            }
        }
        guard let last = due.last else {
            lanes[name]?.handledThrough = current
            planNext(name)
            await persist(name, through: current)
            return
        }
        let reference = last == next ? wake : last
        let lastOnTime = !startup && current.timeIntervalSince(reference) <= settings.lateAfter.seconds
        let decision = FireDecision(due: due, lastOnTime: lastOnTime, now: current, catchUp: schedule.catchUp, window: schedule.catchUpWindow)
        let before = lane.handledThrough
        lanes[name]?.handledThrough = last
        planNext(name)
        switch await persist(name, through: last) {
        case .moved: break
        case .dealtWithElsewhere: return
        case .notWritten:
            // The records are unreachable: nothing is dealt with until they take the mark.
            lanes[name]?.handledThrough = before
            lanes[name]?.next = next
            lanes[name]?.wake = current.addingTimeInterval(Self.markRetry.seconds)
            return
        }
        if !decision.passedOver.isEmpty {
            let times = decision.passedOver.map(Self.text).joined(separator: ", ")
            logger.warning("missed fire(s) at \(times) do not run (catch_up: \(schedule.catchUp.rawValue))", metadata: metadata)
            // Caught up by a later fire's run (catch_up: latest), the job did run.
            if decision.run.isEmpty {
                tellMissed(schedule, decision.passedOver, "the engine was not running (or the clock jumped) then, and catch_up: \(schedule.catchUp.rawValue) does not run it now")
            }
        }
        guard !decision.run.isEmpty else { return }
        // The mark says the fire is dealt with, so no other engine will run it: one marked here is
        // run here, even when this engine stopped leading its fleet while the mark was written
        // (its runs are left to finish). Stopping for good, the engine leaves it to its next
        // start, which runs a marked fire whose run was never recorded.
        if Task.isCancelled && (!leavesRunsWhenCancelled || Task.isShuttingDownGracefully) { return }
        submit(name, decision.run)
    }

    /// Runs `fires` one after another, or applies the overlap policy when a run is still going.
    private func submit(_ name: String, _ fires: [Date]) {
        guard var lane = lanes[name] else { return }
        let metadata: Logger.Metadata = ["schedule": "\(name)", "runbook": "\(lane.schedule.runbook)"]
        let times = fires.map(Self.text).joined(separator: ", ")
        guard lane.running != nil || !lane.waiting.isEmpty else {
            lanes[name]?.waiting = fires
            startNext(name)
            return
        }
        switch lane.schedule.overlap {
        case .skip:
            logger.warning("fire at \(times) skipped: the previous run is still going (overlap: skip)", metadata: metadata)
            tellMissed(lane.schedule, fires, "the run of the fire before was still going (overlap: skip)")
        case .queue:
            if lane.waiting.isEmpty {
                lane.waiting = fires
                logger.info("fire at \(times) waits for the previous run to end (overlap: queue)", metadata: metadata)
            } else {
                logger.warning("fire at \(times) skipped: a fire already waits for the previous run (overlap: queue)", metadata: metadata)
                tellMissed(lane.schedule, fires, "a run was still going and a fire already waited for it (overlap: queue)")
            }
        case .replace:
            lane.waiting = fires
            logger.warning("fire at \(times) replaces the run still going, which is cancelled (overlap: replace)", metadata: metadata)
            lane.running?.cancel()
        }
        lanes[name] = lane
    }

    /// Starts the first waiting fire that can start; the next waits for its end.
    private func startNext(_ name: String) {
        while !stopping, var lane = lanes[name], lane.running == nil, !lane.waiting.isEmpty {
            let due = lane.waiting.removeFirst()
            let metadata: Logger.Metadata = ["schedule": "\(name)", "runbook": "\(lane.schedule.runbook)", "due": "\(Self.text(due))"]
            do {
                let run = try starter.start(lane.schedule, dueAt: due)
                lane.running = run
                lanes[name] = lane
                logger.info("scheduled run started", metadata: metadata)
                alert { await $0.fireStarted(schedule: name, dueAt: due) }
                Task { [weak self] in
                    await run.finished()
                    await self?.runEnded(name)
                }
            } catch {
                lanes[name] = lane
                logger.error("scheduled run not started: \(error)", metadata: metadata)
                tellMissed(lane.schedule, [due], "its run did not start: \(error)")
            }
        }
    }

    /// Fires that will not run: told, so that silence about a job never means it ran.
    private func tellMissed(_ schedule: Schedule, _ fires: [Date], _ reason: String) {
        guard !fires.isEmpty else { return }
        alert { await $0.fireMissed(schedule: schedule.name, runbook: schedule.runbook, dueAt: fires, reason: reason) }
    }

    private func alert(_ body: @escaping @Sendable (any MissedFireAlerts) async -> Void) {
        guard let missed else { return }
        let previous = alertsTail
        alertsTail = Task {
            await previous?.value
            await body(missed)
        }
    }

    private func runEnded(_ name: String) {
        lanes[name]?.running = nil
        startNext(name)
    }

    private func stopRuns() async {
        stopping = true
        let running = lanes.values.compactMap(\.running)
        for run in running { run.cancel() }
        for run in running { await run.finished() }
    }

    static func text(_ date: Date) -> String {
        date.formatted(.iso8601)
    }
}
