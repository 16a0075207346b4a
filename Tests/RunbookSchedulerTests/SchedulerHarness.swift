import Clocks
import Foundation
import Logging
import RunbookModel
import RunbookScheduler
import RunbookTestSupport
import Synchronization

/// Marks kept in memory, as the SQLite store keeps them on disk.
final class MemoryState: SchedulerStateStore {
    private let marks: Mutex<[String: Date]>
    /// Reads fail, as a records database that is locked or gone would.
    let unreadable: Bool

    init(_ marks: [String: Date] = [:], unreadable: Bool = false) {
        self.marks = Mutex(marks)
        self.unreadable = unreadable
    }

    subscript(schedule: String) -> Date? { marks.withLock { $0[schedule] } }

    func handledThrough() throws -> [String: Date] {
        if unreadable { throw CancellationError() }
        return marks.withLock { $0 }
    }

    /// The tests' runs are fakes the store does not see: every marked fire counts as started.
    func runRecorded(_ schedule: String, dueAt: Date) throws -> Bool { true }

    func setHandled(_ schedule: String, through instant: Date) throws -> Bool {
        marks.withLock { marks in
            guard (marks[schedule] ?? .distantPast) < instant else { return false }
            marks[schedule] = instant
            return true
        }
    }
}

/// Runs that start when the scheduler says and end when the test says.
final class FakeRuns: ScheduledRunStarter {
    final class Run: ScheduledRun {
        let schedule: String
        let due: Date
        /// The schedule's mark when the run started.
        let markAtStart: Date?
        private let state = Mutex<(ended: Bool, cancelled: Bool, waiting: [CheckedContinuation<Void, Never>])>((false, false, []))

        init(schedule: String, due: Date, markAtStart: Date?) {
            self.schedule = schedule
            self.due = due
            self.markAtStart = markAtStart
        }

        var wasCancelled: Bool { state.withLock { $0.cancelled } }
        var hasEnded: Bool { state.withLock { $0.ended } }

        /// A cancelled run ends at once, as a real one stops its step.
        func cancel() {
            state.withLock { $0.cancelled = true }
            end()
        }

        func end() {
            let waiting = state.withLock { state -> [CheckedContinuation<Void, Never>] in
                state.ended = true
                defer { state.waiting = [] }
                return state.waiting
            }
            waiting.forEach { $0.resume() }
        }

        func finished() async {
            await withCheckedContinuation { continuation in
                let ended = state.withLock { state -> Bool in
                    if !state.ended { state.waiting.append(continuation) }
                    return state.ended
                }
                if ended { continuation.resume() }
            }
        }
    }

    struct Missing: Error, CustomStringConvertible {
        var description: String
    }

    private let started = Mutex<[Run]>([])
    private let state: MemoryState?
    private let missing: Set<String>

    /// `missing` are runbooks that are not in the library.
    init(state: MemoryState? = nil, missing: Set<String> = []) {
        self.state = state
        self.missing = missing
    }

    var runs: [Run] { started.withLock { $0 } }

    /// The due times of the runs started, in the order they started, as UTC text.
    var starts: [String] { runs.map { Instant.text($0.due, in: "UTC") } }

    func start(_ schedule: Schedule, dueAt: Date) throws -> any ScheduledRun {
        if missing.contains(schedule.runbook) { throw Missing(description: "no runbook named '\(schedule.runbook)'") }
        let run = Run(schedule: schedule.name, due: dueAt, markAtStart: state?[schedule.name])
        started.withLock { $0.append(run) }
        return run
    }
}

/// Wall time that follows a test clock, and can jump as an NTP step or a suspend makes it.
final class WallClock: Sendable {
    let clock: TestClock<Duration>
    let origin: Date
    private let jumped = Mutex<TimeInterval>(0)

    init(clock: TestClock<Duration>, origin: Date) {
        self.clock = clock
        self.origin = origin
    }

    func now() -> Date {
        origin.addingTimeInterval(TestClock<Duration>.Instant().duration(to: clock.now).seconds + jumped.withLock { $0 })
    }

    /// Moves the wall clock without the clock the scheduler waits on.
    func jump(by seconds: TimeInterval) {
        jumped.withLock { $0 += seconds }
    }
}

/// A scheduler on a test clock, with a wall time that follows the clock.
struct SchedulerHarness {
    let clock = TestClock()
    let wall: WallClock

    init(at start: String) {
        wall = WallClock(clock: clock, origin: Instant.at(start))
    }

    var now: Date { wall.now() }

    func scheduler(
        _ schedules: [Schedule], state: any SchedulerStateStore, runs: any ScheduledRunStarter, missed: (any MissedFireAlerts)? = nil, logger: Logger = Logger(label: "test")
    ) -> Scheduler<TestClock<Duration>> {
        let wall = self.wall
        return Scheduler(
            schedules: schedules, market: MarketCalendar(), state: state, starter: runs, clock: clock, now: { wall.now() },
            jitter: { $0 }, missed: missed, logger: logger
        )
    }

    /// Starts the scheduler and returns once it waits for its next fire.
    func start(_ scheduler: Scheduler<TestClock<Duration>>) async -> Task<Void, Never> {
        let task = Task { _ = try? await scheduler.run() }
        await asleep()
        return task
    }

    func stop(_ task: Task<Void, Never>) async {
        task.cancel()
        await task.value
    }

    /// Waits until the scheduler sleeps on the clock: everything due so far has been dealt with.
    func asleep() async {
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            do {
                try await clock.checkSuspension()
            } catch {
                return
            }
        }
    }

    /// Lets `duration` pass in steps of 30 seconds at most, so that each fire is dealt with on time.
    func pass(_ duration: Duration) async {
        var left = duration
        while left > .zero {
            let step = min(left, .seconds(30))
            await asleep()
            await clock.advance(by: step)
            left -= step
        }
        await asleep()
    }

    /// Lets time pass until the wall clock shows `time`.
    func pass(until time: String) async {
        await pass(.milliseconds(Int64((Instant.at(time).timeIntervalSince(now) * 1000).rounded())))
    }
}

func schedule(_ name: String, cron: String, catchUp: Schedule.CatchUp = .latest, window: Duration = .seconds(3600), overlap: Schedule.Overlap = .skip, jitter: Duration = .zero, runbook: String? = nil) throws -> Schedule {
    Schedule(
        name: name, runbook: runbook ?? name, timing: .cron(try CronExpression.parse(cron), TimeZone(identifier: "UTC")!),
        catchUp: catchUp, catchUpWindow: window, overlap: overlap, jitter: jitter
    )
}

/// A scheduler running on a test clock with marks in memory and fake runs.
struct RunningScheduler {
    let harness: SchedulerHarness
    let state: MemoryState
    let runs: FakeRuns
    let task: Task<Void, Never>

    /// Starts `schedules` at `time`; `missing` runbooks are not in the library.
    init(
        _ schedules: [Schedule], at time: String, marks: [String: Date] = [:], unreadable: Bool = false, missing: Set<String> = [],
        missed: (any MissedFireAlerts)? = nil, logger: Logger = Logger(label: "test")
    ) async {
        harness = SchedulerHarness(at: time)
        state = MemoryState(marks, unreadable: unreadable)
        runs = FakeRuns(state: state, missing: missing)
        task = await harness.start(harness.scheduler(schedules, state: state, runs: runs, missed: missed, logger: logger))
    }

    func pass(until time: String) async { await harness.pass(until: time) }

    func pass(_ duration: Duration) async { await harness.pass(duration) }

    func stop() async { await harness.stop(task) }
}
