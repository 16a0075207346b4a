import Foundation
import Logging
import RunbookModel
import RunbookScheduler
import RunbookTestSupport
import Testing

/// The scheduler on a test clock: fires, catch-up and overlap, without sleeping.
@Suite struct SchedulerTests {
    @Test func aFireStartsItsRunAtTheDueInstantWithTheMarkAlreadyWritten() async throws {
        let scheduler = await RunningScheduler([try schedule("report", cron: "*/5 * * * *")], at: "2026-06-01T10:02:00Z")
        let runs = scheduler.runs
        await scheduler.pass(until: "2026-06-01T10:04:59Z")
        #expect(runs.starts.isEmpty)
        await scheduler.pass(until: "2026-06-01T10:05:00Z")
        #expect(runs.starts == ["2026-06-01T10:05:00Z"])
        #expect(runs.runs.first?.markAtStart == Instant.at("2026-06-01T10:05:00Z"))
        runs.runs.first?.end()
        await scheduler.pass(until: "2026-06-01T10:20:00Z")
        // 10:10 starts; 10:15 and 10:20 find it still going and are skipped, the default.
        #expect(runs.starts == ["2026-06-01T10:05:00Z", "2026-06-01T10:10:00Z"])
        await scheduler.stop()
    }

    @Test func aNewScheduleOwesNothingFromBeforeItWasFirstSeen() async throws {
        let scheduler = await RunningScheduler([try schedule("hourly", cron: "0 * * * *", catchUp: .all)], at: "2026-06-01T10:30:00Z")
        #expect(scheduler.runs.starts.isEmpty)
        #expect(scheduler.state["hourly"] == Instant.at("2026-06-01T10:30:00Z"))
        await scheduler.pass(until: "2026-06-01T11:00:00Z")
        #expect(scheduler.runs.starts == ["2026-06-01T11:00:00Z"])
        await scheduler.stop()
    }

    // The engine was down from just after 07:00 until 10:30: 08:00, 09:00 and 10:00 were missed.
    @Test(arguments: [
        (Schedule.CatchUp.none, 3, [String]()),
        (.latest, 3, ["2026-06-01T10:00:00Z"]),
        (.all, 3, ["2026-06-01T08:00:00Z", "2026-06-01T09:00:00Z", "2026-06-01T10:00:00Z"]),
        // Within the default hour, only 10:00 is young enough.
        (.latest, 1, ["2026-06-01T10:00:00Z"]),
        (.all, 1, ["2026-06-01T10:00:00Z"]),
    ])
    func missedFiresFollowTheCatchUpPolicyWithinItsWindow(catchUp: Schedule.CatchUp, windowHours: Int, expected: [String]) async throws {
        let hourly = try schedule("hourly", cron: "0 * * * *", catchUp: catchUp, window: .seconds(windowHours * 3600))
        let scheduler = await RunningScheduler([hourly], at: "2026-06-01T10:30:00Z", marks: ["hourly": Instant.at("2026-06-01T07:00:00Z")])
        let runs = scheduler.runs
        // Missed fires run one after another, each when the one before it has ended.
        for index in expected.indices {
            try #require(await eventually { runs.runs.count == index + 1 })
            #expect(runs.runs.filter { !$0.hasEnded }.count == 1)
            runs.runs[index].end()
        }
        await scheduler.harness.asleep()
        #expect(runs.starts == expected)
        #expect(scheduler.state["hourly"] == Instant.at("2026-06-01T10:00:00Z"))
        await scheduler.pass(until: "2026-06-01T11:00:00Z")
        #expect(runs.starts == expected + ["2026-06-01T11:00:00Z"])
        await scheduler.stop()
    }

    @Test func marksThatCannotBeReadAreNotOverwritten() async throws {
        // The records are locked, or the start is cancelled, while the marks are read: the
        // schedule is not taken for new, so its stored mark stays for the next start.
        let scheduler = await RunningScheduler(
            [try schedule("hourly", cron: "0 * * * *", catchUp: .all)], at: "2026-06-01T10:30:00Z", marks: ["hourly": Instant.at("2026-06-01T08:00:00Z")], unreadable: true
        )
        await scheduler.pass(until: "2026-06-01T10:59:00Z")
        #expect(scheduler.state["hourly"] == Instant.at("2026-06-01T08:00:00Z"))
        #expect(scheduler.runs.starts.isEmpty)
        await scheduler.pass(until: "2026-06-01T11:00:00Z")
        #expect(scheduler.runs.starts == ["2026-06-01T11:00:00Z"], "fires go on")
        #expect(scheduler.state["hourly"] == Instant.at("2026-06-01T11:00:00Z"))
        await scheduler.stop()
    }

    @Test func aJumpOfTheWallClockIsCaughtUpAsMissedFires() async throws {
        let scheduler = await RunningScheduler([try schedule("hourly", cron: "0 * * * *")], at: "2026-06-01T10:00:30Z")
        // The machine was suspended, or NTP stepped the clock: three hours pass at once.
        scheduler.harness.wall.jump(by: 3 * 3600)
        await scheduler.pass(.seconds(60))
        #expect(scheduler.runs.starts == ["2026-06-01T13:00:00Z"])
        #expect(scheduler.state["hourly"] == Instant.at("2026-06-01T13:00:00Z"))
        await scheduler.stop()
    }

    @Test func aWallClockSetBackDoesNotRepeatFires() async throws {
        let scheduler = await RunningScheduler([try schedule("hourly", cron: "0 * * * *")], at: "2026-06-01T10:59:00Z")
        await scheduler.pass(until: "2026-06-01T11:00:00Z")
        scheduler.runs.runs.first?.end()
        scheduler.harness.wall.jump(by: -1800)
        await scheduler.pass(.seconds(40 * 60))
        #expect(scheduler.runs.starts == ["2026-06-01T11:00:00Z"])
        await scheduler.stop()
    }

    @Test func overlapSkipPassesOverAFireWhileTheRunGoesOn() async throws {
        let scheduler = await RunningScheduler([try schedule("minutely", cron: "* * * * *", overlap: .skip)], at: "2026-06-01T10:00:30Z")
        let runs = scheduler.runs
        await scheduler.pass(until: "2026-06-01T10:02:00Z")
        #expect(runs.starts == ["2026-06-01T10:01:00Z"])
        #expect(scheduler.state["minutely"] == Instant.at("2026-06-01T10:02:00Z"))
        runs.runs[0].end()
        await scheduler.pass(until: "2026-06-01T10:03:00Z")
        #expect(runs.starts == ["2026-06-01T10:01:00Z", "2026-06-01T10:03:00Z"])
        await scheduler.stop()
    }

    @Test func overlapQueueRunsOneFireAfterTheRunEnds() async throws {
        let scheduler = await RunningScheduler([try schedule("minutely", cron: "* * * * *", overlap: .queue)], at: "2026-06-01T10:00:30Z")
        let runs = scheduler.runs
        // 10:02 waits for 10:01; 10:03 finds 10:02 already waiting and is passed over.
        await scheduler.pass(until: "2026-06-01T10:03:00Z")
        #expect(runs.starts == ["2026-06-01T10:01:00Z"])
        runs.runs[0].end()
        try #require(await eventually { runs.starts == ["2026-06-01T10:01:00Z", "2026-06-01T10:02:00Z"] })
        runs.runs[1].end()
        await scheduler.pass(until: "2026-06-01T10:04:00Z")
        #expect(runs.starts == ["2026-06-01T10:01:00Z", "2026-06-01T10:02:00Z", "2026-06-01T10:04:00Z"])
        await scheduler.stop()
    }

    @Test func overlapReplaceCancelsTheRunAndStartsTheFire() async throws {
        let scheduler = await RunningScheduler([try schedule("minutely", cron: "* * * * *", overlap: .replace)], at: "2026-06-01T10:00:30Z")
        let runs = scheduler.runs
        await scheduler.pass(until: "2026-06-01T10:02:00Z")
        try #require(await eventually { runs.starts == ["2026-06-01T10:01:00Z", "2026-06-01T10:02:00Z"] })
        #expect(runs.runs[0].wasCancelled)
        #expect(!runs.runs[1].wasCancelled)
        await scheduler.stop()
        #expect(runs.runs[1].wasCancelled, "stopping the scheduler cancels the runs it started")
    }

    @Test func jitterDelaysTheStartButTheRunBelongsToItsFireTime() async throws {
        let scheduler = await RunningScheduler([try schedule("spread", cron: "*/5 * * * *", jitter: .seconds(30))], at: "2026-06-01T10:02:00Z")
        await scheduler.pass(until: "2026-06-01T10:05:29Z")
        #expect(scheduler.runs.starts.isEmpty)
        await scheduler.pass(until: "2026-06-01T10:05:30Z")
        #expect(scheduler.runs.starts == ["2026-06-01T10:05:00Z"])
        await scheduler.stop()
    }

    @Test func aMissingRunbookStartsNothingAndTheScheduleGoesOn() async throws {
        let log = CapturedLog()
        let schedules = [try schedule("report", cron: "0 * * * *", runbook: "hourly-report"), try schedule("backup", cron: "0 * * * *")]
        let scheduler = await RunningScheduler(schedules, at: "2026-06-01T10:59:00Z", missing: ["hourly-report"], logger: Logger(label: "test") { _ in log })
        await scheduler.pass(until: "2026-06-01T11:00:00Z")
        #expect(scheduler.runs.runs.map(\.schedule) == ["backup"])
        #expect(log.messages.contains { $0.contains("scheduled run not started: no runbook named 'hourly-report'") })
        #expect(scheduler.state["report"] == Instant.at("2026-06-01T11:00:00Z"))
        await scheduler.stop()
    }
}
