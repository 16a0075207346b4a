import Foundation
import Logging
import RunbookApp
import RunbookExecutor
import RunbookModel
import RunbookScheduler
import RunbookSQLite

/// Next-fire computation against a minute-by-minute scan, and the delay from a fire's instant to
/// its run's start in a live scheduler against a bare timer.
struct SchedulerBench {
    let scratch: URL
    /// How long the firing-delay measurement runs.
    let minutes: Int

    func run() async throws {
        nextFire()
        try await firingDelay()
    }

    // MARK: Next fire

    /// 10,000 cron schedules in six zones: hourly, daily, weekdays, every few minutes, monthly, yearly.
    static func schedules(count: Int) -> [(CronExpression, TimeZone)] {
        var random = SplitMix64(seed: 7)
        let zones = ["UTC", "America/New_York", "Europe/London", "Europe/Athens", "Asia/Tokyo", "Australia/Sydney"].map { TimeZone(identifier: $0)! }
        return (0..<count).map { index in
            let (minute, hour, day) = (random.next(60), random.next(24), 1 + random.next(28))
            let text: String
            switch index % 20 {
            case 0..<6: text = "\(minute) * * * *"
            case 6..<12: text = "\(minute) \(hour) * * *"
            case 12..<15: text = "\(minute) \(hour) * * MON-FRI"
            case 15, 16: text = "*/\([5, 10, 15, 30][random.next(4)]) * * * *"
            case 17, 18: text = "\(minute) \(hour) \(day) * *"
            default: text = "\(minute) \(hour) \(day) \(1 + random.next(12)) *"
            }
            return (try! CronExpression.parse(text), zones[random.next(zones.count)])
        }
    }

    /// What a scheduler without field skipping does: step a minute at a time through the zone's calendar.
    static func scan(_ cron: CronExpression, in zone: TimeZone, after instant: Date) -> Date? {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = zone
        var candidate = Date(timeIntervalSince1970: (instant.timeIntervalSince1970 / 60).rounded(.down) * 60 + 60)
        for _ in 0..<(366 * 24 * 60) {
            let fields = calendar.dateComponents([.month, .day, .hour, .minute, .weekday], from: candidate)
            if cron.months & (1 << UInt64(fields.month!)) != 0, cron.hours & (1 << UInt64(fields.hour!)) != 0,
               cron.minutes & (1 << UInt64(fields.minute!)) != 0, cron.matchesDay(fields.day!, weekday: fields.weekday! - 1) {
                return candidate
            }
            candidate += 60
        }
        return nil
    }

    func nextFire() {
        let schedules = Self.schedules(count: 10_000)
        let from = Date(timeIntervalSince1970: 1_773_000_000)  // 2026-03-08, a Sunday New York changes its clocks
        var rounds: [Double] = []
        var found = 0
        for _ in 0..<5 {
            let start = ContinuousClock.now
            found = schedules.reduce(0) { count, schedule in count + (FireTimes(timing: .cron(schedule.0, schedule.1)).next(after: from) == nil ? 0 : 1) }
            rounds.append(start.duration(to: .now).seconds)
        }
        let sample = Array(schedules.prefix(200))
        let scanStart = ContinuousClock.now
        let scanned = sample.reduce(0) { count, schedule in count + (Self.scan(schedule.0, in: schedule.1, after: from) == nil ? 0 : 1) }
        let scanSeconds = scanStart.duration(to: .now).seconds
        let market = FireTimes(timing: .market(MarketTime(anchor: .open, offset: .seconds(-900))), market: MarketCalendar())
        let marketStart = ContinuousClock.now
        for offset in 0..<1000 { _ = market.next(after: from.addingTimeInterval(Double(offset) * 3600)) }
        let marketSeconds = marketStart.duration(to: .now).seconds

        print("next fire of 10,000 cron schedules in 6 zones (median of 5)")
        print(String(format: "  runbook, skipping by field       %8.1f ms   %6.2f us/schedule   goal well under 1 s  (%d found)", median(rounds) * 1000, median(rounds) * 100, found))
        print(String(format: "  baseline, minute-by-minute scan  %8.1f ms   %6.0f us/schedule   (200 of them, %d found; all 10,000 would take %.0f s)", scanSeconds * 1000, scanSeconds * 1e6 / 200, scanned, scanSeconds * 50))
        print(String(format: "  ratio                            %8.0f x", scanSeconds / 200 / (median(rounds) / 10_000)))
        print(String(format: "  market-relative (15m before the forex open)   %6.1f us/schedule", marketSeconds * 1000))
    }

    // MARK: Firing delay

    /// Minute schedules in a live scheduler, with SQLite marks and real (no-op) runs; the delay
    /// is the recorded run start minus its fire time. The baseline is a bare timer aimed at the
    /// 30th second of the same minutes, out of the scheduler's way.
    func firingDelay() async throws {
        let folder = scratch.appendingPathComponent("scheduler")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let records = try RecordsDatabase(path: folder.appendingPathComponent("runbook.db").path)
        let noop = try RunbookLoader(catalog: Catalog.steps).load(text: "name: noop\nsteps:\n  - id: only\n    log: {message: fired, level: debug}\n", file: "noop.yaml")
        let launcher = RunLauncher(executor: Executor(registry: Catalog.steps, recorder: records.runs, workingDirectory: folder.path, lookup: { _ in noop }))
        let count = 20
        let schedules = try (0..<count).map { Schedule(name: "minute-\($0)", runbook: "noop", timing: .cron(try CronExpression.parse("* * * * *"), TimeZone(identifier: "UTC")!)) }
        var logger = Logger(label: "bench")
        logger.logLevel = .error
        let scheduler = Scheduler(schedules: schedules, market: MarketCalendar(), state: records.schedule, starter: launcher, clock: ContinuousClock(), logger: logger)

        let started = Date()
        let task = Task { try await scheduler.run() }
        let baseline = Task { await Self.timerDelays(until: started.addingTimeInterval(Double(minutes) * 60)) }
        try await Task.sleep(for: .seconds(minutes * 60))
        task.cancel()
        _ = try? await task.value
        let timer = await baseline.value

        let runs = try await records.runs.runs(RunFilter(trigger: "schedule", limit: 100_000))
        let delays = runs.compactMap { run in run.dueAt.map { run.startedAt.timeIntervalSince($0) * 1000 } }.sorted()
        print("firing delay, \(count) minute schedules for \(minutes) min (due instant to run start, as recorded; \(delays.count) runs)")
        print(String(format: "  runbook scheduler      min %6.1f ms   p50 %6.1f ms   p99 %6.1f ms   max %6.1f ms   goal tens of ms", delays.first ?? 0, Self.percentile(delays, 0.5), Self.percentile(delays, 0.99), delays.last ?? 0))
        print(String(format: "  baseline, bare timer   min %6.1f ms   p50 %6.1f ms   p99 %6.1f ms   max %6.1f ms   (one Task.sleep to each instant, %d wakes)", timer.first ?? 0, Self.percentile(timer, 0.5), Self.percentile(timer, 0.99), timer.last ?? 0, timer.count))
    }

    /// Wakes at the 30th second of each minute until `end`; how late each wake was, in ms, sorted.
    static func timerDelays(until end: Date) async -> [Double] {
        var delays: [Double] = []
        var due = Date(timeIntervalSince1970: ((Date().timeIntervalSince1970 - 30) / 60).rounded(.down) * 60 + 90)
        while due < end {
            // The wall clock may run a little ahead of the timer's clock: an early wake sleeps again, as the scheduler does.
            while due.timeIntervalSinceNow > 0 {
                try? await Task.sleep(for: .microseconds(Int64((due.timeIntervalSinceNow * 1e6).rounded(.up))))
            }
            delays.append(Date().timeIntervalSince(due) * 1000)
            due += 60
        }
        return delays.sorted()
    }

    static func percentile(_ sorted: [Double], _ fraction: Double) -> Double {
        sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * fraction))]
    }
}

/// A small seeded generator, so that every run measures the same schedules.
struct SplitMix64 {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next(_ bound: Int) -> Int {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return Int((z ^ (z >> 31)) % UInt64(bound))
    }
}
