import Clocks
import Foundation
import Logging
import RunbookApp
import RunbookChecks
import RunbookEscalation
import RunbookExecutor
import RunbookModel
import RunbookSQLite
import RunbookSteps
import RunbookTestSupport
import Synchronization
import Testing

/// A probe whose reading the test sets, counting how often it is read; `hang` never answers.
struct DialProbe: Probe {
    static let spec = ProbeSpec(name: "dial", summary: "a value the test sets", inputs: [InputSpec("name", .string)], unit: .number, shorthand: "name")
    static let dials = Mutex<[String: (value: Double, reads: Int)]>([:])

    static func set(_ name: String, _ value: Double) { dials.withLock { $0[name, default: (0, 0)].value = value } }
    static func reads(_ name: String) -> Int { dials.withLock { $0[name]?.reads ?? 0 } }

    let name: String
    init(inputs: [String: Value]) throws(ProbeInputError) { name = inputs.text("name") ?? "" }

    func read(in environment: EngineServices) async throws -> ProbeReading {
        let value = Self.dials.withLock { dials in
            dials[name, default: (0, 0)].reads += 1
            return dials[name]!.value
        }
        if value.isNaN { try await Task.sleep(for: .seconds(3600)) }
        return ProbeReading(value: value, text: "dial at \(value)")
    }
}

final class Decisions: Sendable {
    let list = Mutex<[Guardian<TestClock<Duration>>.Decision]>([])
    var all: [Guardian<TestClock<Duration>>.Decision] { list.withLock { $0 } }
    func append(_ decision: Guardian<TestClock<Duration>>.Decision) { list.withLock { $0.append(decision) } }
}

/// A guardian on a test clock over dial checks, starting runbooks into a real records file.
struct GuardianHarness {
    let folder: URL
    let records: RecordsDatabase
    let clock = TestClock()
    let guardian: Guardian<TestClock<Duration>>
    let launcher: RunLauncher
    let decisions = Decisions()
    let checks: [Check]
    /// Incidents under `escalation`, when the test gives one, for two channels.
    let desk: IncidentDesk?

    /// `wallClock`: the wall time the guardian and the desk read, when the test sets it itself.
    init(_ checkYAML: [String], runbooks: [String] = [], escalation: EscalationPolicy? = nil, wallClock: (@Sendable () -> Date)? = nil) throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("guardian-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        records = try RecordsDatabase(path: folder.appendingPathComponent("runbook.db").path)
        let probes = ProbeRegistry([DialProbe.self])
        let loader = CheckLoader(probes: probes)
        checks = try checkYAML.map { try loader.load(text: $0, file: "check.yaml") }
        var library: [String: Runbook] = [:]
        for yaml in runbooks {
            let runbook = try RunbookLoader(catalog: Catalog.steps).load(text: yaml, file: "runbook.yaml")
            library[runbook.name] = runbook
        }
        let known = library
        launcher = RunLauncher(executor: Executor(registry: Catalog.steps, recorder: records.runs, lookup: { name in
            guard let runbook = known[name] else { throw ValidationFailure([]) }
            return runbook
        }))
        let decisions = self.decisions
        let environment = EngineServices(engine: nil, records: records.flows)
        // A whole second, as the records keep times to the millisecond.
        let base = Date(timeIntervalSince1970: Date().timeIntervalSince1970.rounded(.down))
        let origin = clock.now
        // Wall time moves with the test clock, for cooldowns and climbs.
        let clock = self.clock
        let now: @Sendable () -> Date = wallClock ?? { base.addingTimeInterval(origin.duration(to: clock.now).seconds) }
        let checks = self.checks, incidents = records.incidents
        desk = escalation.map { IncidentDesk(store: incidents, policy: $0, channels: ["ops-telegram", "ops-email"], checks: { checks }, now: now) }
        guardian = Guardian(
            book: CheckBook(checks: checks, evaluator: CheckEvaluator(probes: probes, environment: environment, clock: clock)),
            launcher: launcher, journal: records.checks, incidents: desk, clock: clock, logger: Logger(label: "test"),
            healthFile: folder.appendingPathComponent("health.json").path,
            now: now,
            onDecision: { _, decision in decisions.append(decision) }
        )
    }

    /// Moves the clock one interval and waits until `dial` has been read once more and the
    /// check has taken the result.
    func tick(_ dial: String, check: String = "dial-check", by step: Duration = .seconds(1)) async {
        let before = DialProbe.reads(dial)
        await clock.advance(by: step)
        _ = await eventually { DialProbe.reads(dial) > before }
        _ = await eventually { guardian.states.first { $0.check.name == check }?.last.map { $0.at.timeIntervalSinceNow > -5 } == true }
        try? await Task.sleep(for: .milliseconds(20))
    }

    func status(_ check: String = "dial-check") -> CheckStatus? { guardian.states.first { $0.check.name == check }?.status }

    func remove() { try? FileManager.default.removeItem(at: folder) }
}

@Suite struct CheckTrackerTests {
    static let check = Check(name: "t", probe: ProbeConfig(kind: "dial"), failAfter: 3, recoverAfter: 2, flapLimit: 4, flapWindow: .seconds(600))

    func result(_ status: CheckStatus, at seconds: Double) -> CheckResult {
        CheckResult(check: "t", status: status, value: nil, text: "", threshold: "", at: Date(timeIntervalSince1970: seconds))
    }

    @Test func aStateChangesOnlyAfterEnoughResultsInARow() {
        var tracker = CheckTracker(check: Self.check)
        #expect(tracker.record(result(.healthy, at: 0))?.to == .healthy)
        // Two bad results and a good one: no change; the count starts again.
        #expect(tracker.record(result(.critical, at: 10)) == nil)
        #expect(tracker.record(result(.warning, at: 20)) == nil)
        #expect(tracker.record(result(.healthy, at: 30)) == nil)
        #expect(tracker.record(result(.critical, at: 40)) == nil)
        #expect(tracker.record(result(.critical, at: 50)) == nil)
        // Three bad in a row, warning or critical: the latest is taken.
        let change = tracker.record(result(.critical, at: 60))
        #expect(change?.from == .healthy && change?.to == .critical)
        // Recovery takes two good results.
        #expect(tracker.record(result(.healthy, at: 70)) == nil)
        #expect(tracker.record(result(.healthy, at: 80))?.to == .healthy)
        #expect(tracker.status == .healthy && tracker.since == Date(timeIntervalSince1970: 80))
    }

    @Test func theMarketClosingIsTakenAtOnce() {
        var tracker = CheckTracker(check: Self.check)
        _ = tracker.record(result(.healthy, at: 0))
        #expect(tracker.record(result(.idle, at: 10))?.to == .idle)
        #expect(tracker.record(result(.healthy, at: 20))?.to == .healthy)
    }

    @Test func aCheckThatChangesTooOftenIsFlapping() {
        var check = Self.check
        check.failAfter = 1
        check.recoverAfter = 1
        var tracker = CheckTracker(check: check)
        let statuses: [CheckStatus] = [.healthy, .critical, .healthy, .critical]
        for (index, status) in statuses.enumerated() { _ = tracker.record(result(status, at: Double(index) * 60)) }
        #expect(tracker.flapping)
        // Quiet for longer than the window: the old changes fall out of it.
        _ = tracker.record(result(.healthy, at: 2000))
        #expect(!tracker.flapping)
    }
}

@Suite(.serialized) struct GuardianTests {
    static let waitingRunbook = """
        name: recover
        steps:
          - id: work
            wait: 1h
        """

    static func dialCheck(_ dial: String, extra: String = "") -> String {
        """
        name: dial-check
        probe: {dial: \(dial)}
        critical: "> 5"
        interval: 1s
        hysteresis: {fail: 2, recover: 1}
        on_critical: {run: recover}
        \(extra)
        """
    }

    @Test func aCriticalCheckStartsItsRunbookOnceThenWaitsForItAndTheCooldown() async throws {
        let dial = "guardian-\(UUID().uuidString)"
        let harness = try GuardianHarness([Self.dialCheck(dial, extra: "cooldown: 10m\nflapping: {changes: 20, window: 1h}")], runbooks: [Self.waitingRunbook])
        defer { harness.remove() }
        let task = Task { try await harness.guardian.run() }
        #expect(await eventually { DialProbe.reads(dial) == 1 })
        #expect(await eventually { harness.status() == .healthy })

        DialProbe.set(dial, 10)
        await harness.tick(dial)
        #expect(harness.status() == .healthy)
        await harness.tick(dial)
        #expect(harness.status() == .critical)
        #expect(harness.decisions.all == [.started(runbook: "recover")])
        #expect(await eventually { (try? await harness.records.runs.runs().first)?.map { $0.trigger == "check" && $0.triggerSource == "dial-check" } == true })

        // Recovered and critical again while the first run is still going: no second run.
        DialProbe.set(dial, 0)
        await harness.tick(dial)
        DialProbe.set(dial, 10)
        await harness.tick(dial)
        await harness.tick(dial)
        #expect(harness.decisions.all.last == .alreadyRunning)

        // The run ended, but the last start is within the cooldown.
        harness.launcher.running("check:dial-check").forEach { $0.cancel() }
        #expect(await eventually { harness.launcher.running("check:dial-check").isEmpty })
        DialProbe.set(dial, 0)
        await harness.tick(dial)
        DialProbe.set(dial, 10)
        await harness.tick(dial)
        await harness.tick(dial)
        #expect(harness.decisions.all.last == .coolingDown)
        #expect(try await harness.records.runs.runs().count == 1)

        // Every change is recorded, and the alert is open while the check is critical.
        let changes = try await harness.records.checks.checkChanges(check: "dial-check").map(\.toStatus)
        #expect(changes == ["healthy", "critical", "healthy", "critical", "healthy", "critical"])
        #expect(try await harness.records.checks.openAlerts() == ["dial-check"])
        task.cancel()
        _ = try? await task.value
    }

    @Test func everyMessageOfAnIncidentSaysWhatTheCheckMeasuresWhenItIsSent() async throws {
        let dial = "messages-\(UUID().uuidString)"
        let check = """
            name: dial-check
            probe: {dial: \(dial)}
            warning: "> 120"
            critical: "> 300"
            interval: 10s
            hysteresis: {fail: 1, recover: 1}
            """
        let harness = try GuardianHarness([check], escalation: EscalationPolicy())
        defer { harness.remove() }
        let desk = try #require(harness.desk)
        let evaluate = { await harness.guardian.evaluateOnce(harness.checks[0]) }
        func texts() async throws -> [String] {
            try await harness.records.incidents.outbox(states: Set(OutboxEntry.State.allCases), limit: 100).filter { $0.channel == "ops-telegram" }.map(\.subject)
        }
        DialProbe.set(dial, 10)
        await evaluate()
        DialProbe.set(dial, 310)
        await evaluate()
        #expect(try await texts() == ["CRITICAL L2 dial-check: dial at 310.0 (critical > 300)"])

        // Still critical 15 minutes on, and worse: the level-3 message says how bad it is now.
        for _ in 0..<90 {
            await harness.clock.advance(by: .seconds(10))
            DialProbe.set(dial, DialProbe.dials.withLock { $0[dial]!.value } + 10)
            await evaluate()
            try await desk.tick()
        }
        let climbed = try await texts()
        #expect(climbed.last == "CRITICAL L3 dial-check: dial at 1210.0 (critical > 300)", "\(climbed)")

        // Back to healthy: the resolve says the value that resolved it.
        await harness.clock.advance(by: .seconds(10))
        DialProbe.set(dial, 12)
        await evaluate()
        let resolved = try await texts()
        #expect(resolved.last == "RESOLVED dial-check: dial at 12.0 (warning > 120, critical > 300)", "\(resolved)")
    }

    @Test func aRunbookStartedByACheckGetsItsDefaultsAndStartsWhenTheCooldownEnds() async throws {
        let dial = "defaults-\(UUID().uuidString)"
        let runbook = "name: recover\nparams:\n  wait: {type: duration, default: 90s}\nsteps:\n  - id: note\n    log: \"waiting ${{ params.wait }}\"\n"
        // A cooldown well beyond the few seconds of test-clock time the steps below take, however
        // loaded the machine (a tick that waited out its read may move the clock once more).
        let harness = try GuardianHarness([Self.dialCheck(dial, extra: "cooldown: 20s\nflapping: {changes: 20, window: 1h}")], runbooks: [runbook])
        defer { harness.remove() }
        let task = Task { try await harness.guardian.run() }
        #expect(await eventually { harness.status() == .healthy })
        DialProbe.set(dial, 10)
        await harness.tick(dial)
        await harness.tick(dial)
        #expect(await eventually { (try? await harness.records.runs.runs().first?.status) == "succeeded" })
        let run = try #require(try await harness.records.runs.runs().first)
        #expect(try await harness.records.runs.attempts(runID: run.id).first?.output == "waiting 1m30s")
        // Recovered and bad again within the cooldown: held back, then started once it ends,
        // the check still critical, without a new change.
        DialProbe.set(dial, 0)
        await harness.tick(dial)
        DialProbe.set(dial, 10)
        await harness.tick(dial)
        await harness.tick(dial)
        #expect(harness.decisions.all.last == .coolingDown)
        #expect(try await harness.records.runs.runs().count == 1)
        for _ in 0..<25 where (try? await harness.records.runs.runs().count) == 1 { await harness.tick(dial) }
        #expect(await eventually { (try? await harness.records.runs.runs().count) == 2 })
        #expect(harness.decisions.all.last == .started(runbook: "recover"))
        task.cancel()
        _ = try? await task.value
    }

    @Test func aFlappingCheckStartsNothing() async throws {
        let dial = "flap-\(UUID().uuidString)"
        let harness = try GuardianHarness([Self.dialCheck(dial, extra: "cooldown: 0s\nflapping: {changes: 4, window: 1h}")], runbooks: [Self.waitingRunbook])
        defer { harness.remove() }
        let task = Task { try await harness.guardian.run() }
        #expect(await eventually { harness.status() == .healthy })
        for value in [10.0, 0, 10] {
            DialProbe.set(dial, value)
            await harness.tick(dial)
            if value > 5 { await harness.tick(dial) }
            harness.launcher.running("check:dial-check").forEach { $0.cancel() }
            _ = await eventually { harness.launcher.running("check:dial-check").isEmpty }
        }
        #expect(harness.decisions.all == [.started(runbook: "recover"), .flapping])
        #expect(harness.guardian.states.first?.flapping == true)
        task.cancel()
        _ = try? await task.value
    }

    @Test func aProbeThatHangsDelaysOnlyItsOwnCheck() async throws {
        let dial = "fast-\(UUID().uuidString)"
        let stuck = "stuck-\(UUID().uuidString)"
        DialProbe.set(stuck, .nan)
        let harness = try GuardianHarness([
            Self.dialCheck(dial),
            "name: stuck-check\nprobe: {dial: \(stuck)}\ncritical: \"> 5\"\ninterval: 1s\ntimeout: 3s\nhysteresis: {fail: 1}",
        ])
        defer { harness.remove() }
        let task = Task { try await harness.guardian.run() }
        #expect(await eventually { DialProbe.reads(stuck) == 1 && DialProbe.reads(dial) == 1 })
        for _ in 0..<2 { await harness.tick(dial) }
        #expect(DialProbe.reads(dial) == 3)
        #expect(DialProbe.reads(stuck) == 1)
        // At three seconds the stuck probe times out: unknown, and the check goes on.
        await harness.tick(dial)
        #expect(await eventually { harness.status("stuck-check") == .unknown })
        #expect(harness.guardian.states.first { $0.check.name == "stuck-check" }?.last?.text == "no answer within 3s")

        // The health file has every check, the worst status on top.
        harness.guardian.writeHealthFile()
        let data = try Data(contentsOf: harness.folder.appendingPathComponent("health.json"))
        let report = try HealthReport.decoder.decode(HealthReport.self, from: data)
        #expect(report.status == .unknown)
        #expect(Set(report.checks.map(\.name)) == ["dial-check", "stuck-check"])
        task.cancel()
        _ = try? await task.value
    }
}

@Suite struct AlertTests {
    @Test func clearAlertsClearsOnlyThoseOfChecksThatAreHealthyNow() async throws {
        let calm = "calm-\(UUID().uuidString)"
        let stormy = "stormy-\(UUID().uuidString)"
        DialProbe.set(calm, 0)
        DialProbe.set(stormy, 10)
        let harness = try GuardianHarness([
            "name: calm\nprobe: {dial: \(calm)}\ncritical: \"> 5\"", "name: stormy\nprobe: {dial: \(stormy)}\ncritical: \"> 5\"",
        ])
        defer { harness.remove() }
        // Both were critical when the guardian last looked; only one still is.
        for name in ["calm", "stormy"] {
            let result = CheckResult(check: name, status: .critical, value: 10, text: "dial at 10", threshold: "critical > 5", at: Date())
            try await harness.records.checks.recordChange(check: name, from: .healthy, to: .critical, result: result, flapping: false)
        }
        #expect(try await harness.records.checks.openAlerts() == ["calm", "stormy"])
        let runbook = try RunbookLoader(catalog: Catalog.steps).load(text: "name: tidy\nsteps:\n  - id: clear\n    clear_alerts: {}\n", file: "tidy.yaml")
        var executor = Executor(registry: Catalog.steps, recorder: harness.records.runs, lookup: { _ in runbook })
        let book = CheckBook(checks: harness.checks, evaluator: CheckEvaluator(probes: ProbeRegistry([DialProbe.self]), environment: EngineServices(engine: nil, records: nil)))
        executor.services = EngineServices(alerts: harness.records.checks, checks: book)
        let report = await executor.run(runbook, params: [:], trigger: .manual)
        #expect(report.status == .succeeded)
        #expect(report.steps.first?.output == "cleared 1 alert(s): calm; still open: stormy")
        #expect(try await harness.records.checks.openAlerts() == ["stormy"])
        #expect(try await harness.records.checks.alerts(includeCleared: true).first { $0.checkName == "calm" }?.clearedBy == "runbook tidy run \(report.runID)")
    }
}
