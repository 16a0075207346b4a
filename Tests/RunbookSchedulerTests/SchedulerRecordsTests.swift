import Foundation
import Logging
import RunbookApp
import RunbookExecutor
import RunbookModel
import RunbookScheduler
import RunbookSQLite
import RunbookTestSupport
import Synchronization
import Testing

/// The scheduler with the engine's own parts: marks in the records database, runs started by the
/// launcher and recorded by the executor.
@Suite struct SchedulerRecordsTests {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("scheduler-\(UUID().uuidString)")
    var database: String { folder.appendingPathComponent("runbook.db").path }

    init() throws {
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("Runbooks"), withIntermediateDirectories: true)
    }

    /// The fires the fake runs of every life started (they are not recorded in the database).
    let started = StartedFires()

    /// One life of the engine: from `start` until `stop`, against the same database each time.
    func engineLife(from start: String, until stop: String, _ schedules: [Schedule]) async throws -> [String] {
        let harness = SchedulerHarness(at: start)
        let runs = FakeRuns()
        let state = MarksBesideFakeRuns(marks: try RecordsDatabase(path: database).schedule, started: started)
        let task = await harness.start(harness.scheduler(schedules, state: state, runs: runs))
        await harness.pass(until: stop)
        await harness.stop(task)
        started.add(runs.starts)
        return runs.starts
    }

    @Test func aRestartInTheMiddleOfADueWindowNeitherMissesNorRepeatsAFire() async throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        let hourly = [try schedule("hourly", cron: "0 * * * *")]
        #expect(try await engineLife(from: "2026-06-01T09:59:30Z", until: "2026-06-01T10:00:20Z", hourly) == ["2026-06-01T10:00:00Z"])
        // Back 20 seconds later, still inside the minute of the fire: 10:00 has run, it does not run again.
        #expect(try await engineLife(from: "2026-06-01T10:00:40Z", until: "2026-06-01T10:30:00Z", hourly) == [])
        // Down over 11:00: the missed fire runs once on the way back up (catch_up: latest, within 1h)...
        #expect(try await engineLife(from: "2026-06-01T11:20:00Z", until: "2026-06-01T11:21:00Z", hourly) == ["2026-06-01T11:00:00Z"])
        // ...and only once, however often the engine restarts.
        #expect(try await engineLife(from: "2026-06-01T11:25:00Z", until: "2026-06-01T11:26:00Z", hourly) == [])
        #expect(try await RecordsDatabase(path: database).schedule.handledThrough() == ["hourly": Instant.at("2026-06-01T11:00:00Z")])
    }

    @Test func scheduledRunsAreRecordedWithTheirScheduleAndFireTime() async throws {
        defer { try? FileManager.default.removeItem(at: folder) }
        try "name: backup\nparams:\n  keep: {type: int, default: 7}\nsteps:\n  - id: note\n    log: keeping ${{ params.keep }}\n"
            .write(to: folder.appendingPathComponent("Runbooks/backup.yaml"), atomically: true, encoding: .utf8)
        let library = RunbookLibrary.load(paths: [folder.appendingPathComponent("Runbooks").path], loader: RunbookLoader(catalog: Catalog.steps))
        let records = try RecordsDatabase(path: database)
        let log = CapturedLog()
        let logger = Logger(label: "test") { _ in log }
        let launcher = RunLauncher(executor: Executor(registry: Catalog.steps, recorder: records.runs, logger: logger, lookup: { try library.resolve($0) }))
        var backup = try schedule("nightly-backup", cron: "0 * * * *", runbook: "backup")
        backup.params = ["keep": "3"]
        let report = try schedule("report", cron: "0 * * * *", runbook: "hourly-report")

        let harness = SchedulerHarness(at: "2026-06-01T10:59:00Z")
        let task = await harness.start(harness.scheduler([backup, report], state: records.schedule, runs: launcher, logger: logger))
        await harness.pass(until: "2026-06-01T11:00:00Z")
        #expect(await eventually { (try? await records.runs.runs().first?.status) == "succeeded" })
        await harness.stop(task)

        let recorded = try await records.runs.runs()
        #expect(recorded.count == 1, "the schedule of a missing runbook records nothing")
        #expect(recorded.first?.runbook == "backup")
        #expect(recorded.first?.trigger == "schedule")
        #expect(recorded.first?.triggerSource == "nightly-backup")
        #expect(recorded.first?.dueAt == Instant.at("2026-06-01T11:00:00Z"))
        #expect(recorded.first?.parameters == ["keep": "3"])
        #expect(log.messages.contains { $0.contains("scheduled run not started: cannot start runbook 'hourly-report': no runbook named 'hourly-report'") })
    }
}

/// Fires started by fake runs, by their time as `FakeRuns.starts` says it.
final class StartedFires: Sendable {
    private let fires = Mutex<Set<String>>([])
    func add(_ starts: [String]) { fires.withLock { $0.formUnion(starts) } }
    func contains(_ fire: String) -> Bool { fires.withLock { $0.contains(fire) } }
}

/// The records' marks, with whether a fire's run was recorded answered from the fake runs.
struct MarksBesideFakeRuns: SchedulerStateStore {
    let marks: any SchedulerStateStore
    let started: StartedFires

    func handledThrough() async throws -> [String: Date] { try await marks.handledThrough() }
    func setHandled(_ schedule: String, through instant: Date) async throws -> Bool { try await marks.setHandled(schedule, through: instant) }
    func runRecorded(_ schedule: String, dueAt: Date) async throws -> Bool { started.contains(Instant.text(dueAt, in: "UTC")) }
}

/// A fleet's leader that stops leading while it writes a fire's mark: the mark it wrote tells
/// every other engine the fire is dealt with, so it still runs the fire itself.
@Suite struct LeaseLostWhileMarkingTests {
    /// Marks in memory; writing the mark of `losingAt` cancels the scheduler, as the lease keeper
    /// does when the lease lapses at that moment.
    final class LosingState: SchedulerStateStore {
        let marks = MemoryState()
        let losingAt: Date
        let task = Mutex<Task<Void, Never>?>(nil)

        init(losingAt: Date) {
            self.losingAt = losingAt
        }

        func handledThrough() async throws -> [String: Date] { try marks.handledThrough() }

        func runRecorded(_ schedule: String, dueAt: Date) async throws -> Bool { true }

        func setHandled(_ schedule: String, through instant: Date) async throws -> Bool {
            let moved = try marks.setHandled(schedule, through: instant)
            if instant == losingAt { task.withLock { $0 }?.cancel() }
            return moved
        }
    }

    @Test func aFireMarkedAsTheLeaseLapsesIsRunByTheEngineThatMarkedIt() async throws {
        let harness = SchedulerHarness(at: "2026-03-02T10:00:30Z")
        let state = LosingState(losingAt: Instant.at("2026-03-02T10:01:00Z"))
        let runs = FakeRuns()
        let wall = harness.wall
        let scheduler = Scheduler(
            schedules: [try schedule("beat", cron: "* * * * *")], market: MarketCalendar(), state: state, starter: runs, clock: harness.clock,
            now: { wall.now() }, jitter: { $0 }, leavesRunsWhenCancelled: true, logger: Logger(label: "test")
        )
        let task = await harness.start(scheduler)
        state.task.withLock { $0 = task }
        // Past the fire; the scheduler ends once it has dealt with it, cancelled.
        await harness.clock.advance(by: .seconds(40))
        await task.value
        #expect(runs.starts == ["2026-03-02T10:01:00Z"], "the fire it marked ran here: \(runs.starts)")
        #expect(state.marks["beat"] == Instant.at("2026-03-02T10:01:00Z"))
    }
}
