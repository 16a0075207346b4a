import Foundation
import RunbookModel
import RunbookScheduler
import RunbookTestSupport
import Synchronization
import Testing

/// What the scheduler tells of fires that will not run, in order: so that silence about a job
/// never means it ran.
final class MissedFireLog: MissedFireAlerts {
    private let lines = Mutex<[String]>([])
    var said: [String] { lines.withLock { $0 } }

    func fireMissed(schedule: String, runbook: String, dueAt: [Date], reason: String) async {
        lines.withLock { $0.append("missed \(schedule) \(dueAt.map { Instant.text($0, in: "UTC") }.joined(separator: ",")): \(reason)") }
    }

    func fireStarted(schedule: String, dueAt: Date) async {
        lines.withLock { $0.append("started \(schedule) \(Instant.text(dueAt, in: "UTC"))") }
    }
}

@Suite struct MissedFireTests {
    @Test func aFireSkippedBehindARunStillGoingIsMissedAndTheNextRunSaysItRanAgain() async throws {
        let log = MissedFireLog()
        let scheduler = await RunningScheduler([try schedule("minutely", cron: "* * * * *", overlap: .skip)], at: "2026-06-01T10:00:30Z", missed: log)
        await scheduler.pass(until: "2026-06-01T10:02:00Z")
        scheduler.runs.runs[0].end()
        await scheduler.pass(until: "2026-06-01T10:03:00Z")
        #expect(await eventually { log.said.count == 3 })
        #expect(log.said == [
            "started minutely 2026-06-01T10:01:00Z",
            "missed minutely 2026-06-01T10:02:00Z: the run of the fire before was still going (overlap: skip)",
            "started minutely 2026-06-01T10:03:00Z",
        ])
        await scheduler.stop()
    }

    // The engine was down from just after 07:00 until 10:30.
    @Test(arguments: [
        (Schedule.CatchUp.none, ["missed hourly 2026-06-01T08:00:00Z,2026-06-01T09:00:00Z,2026-06-01T10:00:00Z: the engine was not running (or the clock jumped) then, and catch_up: none does not run it now"]),
        (.latest, ["started hourly 2026-06-01T10:00:00Z"]),
    ])
    func firesPassedOverWhileTheEngineWasDownAreMissedUnlessALaterOneRuns(catchUp: Schedule.CatchUp, expected: [String]) async throws {
        let log = MissedFireLog()
        let hourly = try schedule("hourly", cron: "0 * * * *", catchUp: catchUp, window: .seconds(3 * 3600))
        let scheduler = await RunningScheduler([hourly], at: "2026-06-01T10:30:00Z", marks: ["hourly": Instant.at("2026-06-01T07:00:00Z")], missed: log)
        #expect(await eventually { log.said.count == expected.count })
        try await Task.sleep(for: .milliseconds(200))
        #expect(log.said == expected)
        await scheduler.stop()
    }

    @Test func firesOlderThanTheCatchUpWindowAndARunbookThatCannotStartAreMissed() async throws {
        let log = MissedFireLog()
        let daily = try schedule("daily", cron: "0 6 * * *", window: .seconds(3600))
        let broken = try schedule("broken", cron: "45 10 * * *", runbook: "gone")
        let scheduler = await RunningScheduler(
            [daily, broken], at: "2026-06-01T10:30:00Z", marks: ["daily": Instant.at("2026-05-31T06:00:00Z")], missing: ["gone"], missed: log
        )
        await scheduler.pass(until: "2026-06-01T10:46:00Z")
        #expect(await eventually { log.said.count == 2 })
        #expect(log.said.first == "missed daily 2026-06-01T06:00:00Z: the engine was not running then, and fires since are older than catch_up_window (1h)")
        #expect(log.said.last == "missed broken 2026-06-01T10:45:00Z: its run did not start: no runbook named 'gone'")
        await scheduler.stop()
    }
}
