import Foundation
import RunbookApp
import RunbookCore
import RunbookEscalation
import RunbookExecutor
import RunbookModel
import RunbookSQLite
import RunbookTestSupport
import Synchronization
import Testing

/// Wall-clock time that moves only when a test says.
final class TestTime: Sendable {
    private let value = Mutex(Date(timeIntervalSince1970: 1_790_000_000))
    var now: Date { value.withLock { $0 } }
    func advance(_ seconds: TimeInterval) { value.withLock { $0 += seconds } }
}

/// Open positions a test sets.
final class HeldPositions: Sendable {
    private let held = Mutex<[Exposure]?>([])
    struct Unreadable: Error, CustomStringConvertible {
        var description: String { "database is locked" }
    }
    var value: [Exposure] {
        get throws {
            guard let held = held.withLock({ $0 }) else { throw Unreadable() }
            return held
        }
    }
    func set(_ value: [Exposure]) { held.withLock { $0 = value } }
    /// The records cannot be read.
    func fail() { held.withLock { $0 = nil } }
}

/// A desk over a real records database, with time set by the test.
final class DeskHarness: Sendable {
    let folder: URL
    let records: RecordsDatabase
    let desk: IncidentDesk
    private let time = TestTime()
    /// What the EAs hold open, as the records would say.
    let held = HeldPositions()

    /// `reopening`: the records of another harness, opened again as an engine started anew
    /// would (the desk's memory gone); that harness keeps the folder.
    init(
        policy: EscalationPolicy = EscalationPolicy(), channels: [String] = ["ops-telegram", "ops-email"], checks: [Check] = DeskHarness.checks,
        reopening earlier: DeskHarness? = nil
    ) throws {
        folder = earlier?.folder ?? FileManager.default.temporaryDirectory.appendingPathComponent("desk-\(UUID().uuidString)")
        owner = earlier == nil
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        records = try RecordsDatabase(path: folder.appendingPathComponent("runbook.db").path)
        let (time, held) = (self.time, self.held)
        desk = IncidentDesk(store: records.incidents, policy: policy, channels: channels, checks: { checks }, now: { time.now }, exposure: { try held.value })
    }

    /// Whether the folder is this harness's to remove.
    private let owner: Bool

    deinit { if owner { try? FileManager.default.removeItem(at: folder) } }

    var now: Date { time.now }
    func advance(_ seconds: TimeInterval) { time.advance(seconds) }

    /// Time passes, and the engine's incident clock ticks.
    func pass(_ seconds: TimeInterval) async throws {
        advance(seconds)
        try await desk.tick()
    }

    static let location = SourceLocation(file: "Checks/x.yaml", line: 1, column: 1)
    static var checks: [Check] {
        var signals = Check(name: "signals-per-hour", probe: ProbeConfig(kind: "rate"))
        signals.dependsOn = [CheckDependency(check: "market-data", location: location)]
        return [
            Check(name: "ea-heartbeat", probe: ProbeConfig(kind: "ea_heartbeat"), onCritical: CheckAction(runbook: "ea-lost", location: location)),
            Check(name: "market-data", probe: ProbeConfig(kind: "freshness")),
            Check(name: "command-router", probe: ProbeConfig(kind: "service", inputs: ["names": .string("command-router")])),
            Check(name: "router-peers", probe: ProbeConfig(kind: "router_peers")),
            signals,
        ]
    }

    /// The checks the project ships, as `runbook up` reads them.
    static var shipped: [Check] {
        get throws {
            let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Checks").standardized.path
            return try CheckLoader(probes: Catalog.probes).loadAll(paths: [folder])
        }
    }

    func check(_ name: String) -> Check { Self.checks.first { $0.name == name }! }

    /// A check changed state, as the guardian reports it.
    @discardableResult
    func change(_ check: Check, to status: CheckStatus, _ text: String, subject: String? = nil, threshold: String = "") async throws -> [Incident] {
        try await desk.checkChanged(check, to: status, text: text, subject: subject, threshold: threshold)
    }

    /// The messages queued for one incident, oldest first.
    func messages(of id: Int64) async throws -> [OutboxEntry] {
        try await records.incidents.outbox(incident: id)
    }

    func critical(_ name: String, subject: String? = nil) async throws -> Incident {
        try await desk.checkChanged(check(name), to: .critical, text: "no heartbeat for 95s", subject: subject, threshold: "> 60s").first!
    }

    func healthy(_ name: String) async throws -> [Incident] {
        try await desk.checkChanged(check(name), to: .healthy, text: "ok", subject: nil, threshold: "> 60s")
    }

    /// Every message queued, oldest first.
    var messages: [OutboxEntry] {
        get async throws { try await records.incidents.outbox(states: Set(OutboxEntry.State.allCases), limit: 1000) }
    }

    func timeline(_ id: Int64) async throws -> [String] {
        try await records.incidents.events(of: id).map { "\($0.kind.rawValue): \($0.detail)" }
    }
}

@Suite struct IncidentDeskTests {
    @Test func aCheckWithARunbookOpensAtLevelOneAndTellsNobodyYet() async throws {
        let harness = try DeskHarness()
        let incident = try await harness.critical("ea-heartbeat", subject: "ea-01")
        #expect(incident.level == 1)
        #expect(incident.key == "check:ea-heartbeat:ea-01")
        #expect(try await harness.messages.isEmpty)
        // The same state again lands on the same incident.
        let again = try await harness.critical("ea-heartbeat", subject: "ea-01")
        #expect(again.id == incident.id)
        #expect(try await harness.records.incidents.unresolvedIncidents().count == 1)
    }

    @Test func aFailedRecoveryRunNotifiesLevelTwoWithTheIncidentIdAndSequence() async throws {
        let harness = try DeskHarness()
        let incident = try await harness.critical("ea-heartbeat", subject: "ea-01")
        try await harness.desk.runEnded(check: "ea-heartbeat", runID: 7, runbook: "ea-lost", status: .failed, escalationLevel: 0, error: "restart refused")
        let raised = try #require(try await harness.records.incidents.incident(incident.id))
        #expect(raised.level == 2)
        let messages = try await harness.messages
        #expect(messages.map(\.channel) == ["ops-telegram", "ops-email"])
        #expect(messages.allSatisfy { $0.incidentID == incident.id && $0.sequence == 1 && $0.level == 2 })
        #expect(messages[0].body.contains("Incident \(incident.id):"))
        #expect(messages[0].body.contains("runbook ack \(incident.id)"))
        #expect(try await harness.timeline(incident.id).contains { $0.hasPrefix("run: run 7 (ea-lost) failed: restart refused") })
    }

    @Test func theRecoveryRunsStartAndEndAreBothOnTheTimeline() async throws {
        let harness = try DeskHarness()
        let incident = try await harness.critical("ea-heartbeat", subject: "ea-01")
        let lost = try RunbookLoader(catalog: Catalog.steps).load(text: "name: ea-lost\nsteps:\n  - id: pause\n    wait: 200ms\n", file: "ea-lost.yaml")
        let launcher = RunLauncher(executor: Executor(registry: Catalog.steps, recorder: harness.records.runs, lookup: { _ in lost }))
        let run = try launcher.start("ea-lost", arguments: [:], trigger: .check, key: "check:ea-heartbeat")
        harness.desk.runStarted(by: harness.check("ea-heartbeat"), run: run)
        let id = try #require(await run.runID)
        #expect(await eventually { (try? await harness.timeline(incident.id).contains { $0.hasPrefix("run: run \(id) (ea-lost) succeeded") }) == true })
        let runs = try await harness.timeline(incident.id).filter { $0.hasPrefix("run: ") }
        #expect(runs == ["run: run \(id) (ea-lost) started", "run: run \(id) (ea-lost) succeeded"])
    }

    @Test func aCheckWithoutARunbookNotifiesAtOnceAndTheNewIdIsInTheText() async throws {
        let harness = try DeskHarness()
        let incident = try await harness.critical("market-data")
        #expect(incident.level == 2)
        let message = try #require(try await harness.messages.first)
        #expect(message.body.contains("Incident \(incident.id):"))
        #expect(!message.body.contains(Incident.idPlaceholder))
    }

    @Test func unacknowledgedLevelTwoClimbsToThreeAfterTheWaitAndAnAcknowledgementStopsIt() async throws {
        var policy = EscalationPolicy()
        policy.levels = [2: .init(channels: ["ops-telegram"], climbAfter: .seconds(900)), 3: .init(channels: ["ops-telegram", "ops-email"])]
        let harness = try DeskHarness(policy: policy)
        let first = try await harness.critical("market-data")
        harness.advance(899)
        try await harness.desk.tick()
        #expect(try await harness.records.incidents.incident(first.id)?.level == 2)
        harness.advance(1)
        try await harness.desk.tick()
        #expect(try await harness.records.incidents.incident(first.id)?.level == 3)
        #expect(try await harness.messages.map(\.channel) == ["ops-telegram", "ops-telegram", "ops-email"])
        // Never to level 4 by itself.
        harness.advance(86_400)
        try await harness.desk.tick()
        #expect(try await harness.records.incidents.incident(first.id)?.level == 3)

        // Another incident, acknowledged in time: it stays at 2 and says nothing more.
        let second = try await harness.critical("ea-heartbeat", subject: "ea-02")
        try await harness.desk.runEnded(check: "ea-heartbeat", runID: 9, runbook: "ea-lost", status: .failed, escalationLevel: 2, error: nil)
        try await harness.desk.acknowledge(second.id, by: "maria")
        let before = try await harness.messages.count
        harness.advance(3600)
        try await harness.desk.tick()
        #expect(try await harness.records.incidents.incident(second.id)?.level == 2)
        #expect(try await harness.records.incidents.incident(second.id)?.status == .acknowledged)
        #expect(try await harness.messages.count == before)
        #expect(try await harness.timeline(second.id).contains("acknowledged: acknowledged by maria"))
    }

    @Test func aResolveIsAlwaysSentToWhoeverHeardEvenWhenAcknowledged() async throws {
        let harness = try DeskHarness()
        let incident = try await harness.critical("market-data")
        try await harness.desk.acknowledge(incident.id, by: "maria")
        let resolved = try await harness.healthy("market-data")
        #expect(resolved.map(\.id) == [incident.id])
        let last = try #require(try await harness.messages.last)
        #expect(last.severity == "resolved")
        #expect(last.subject.hasPrefix("RESOLVED"))
        #expect(last.sequence == 2)
        #expect(try await harness.records.incidents.incident(incident.id)?.status == .resolved)
        // It fires again: a new incident, not acknowledged; within the hour the cooldown holds
        // the identical alert back, and says so on the timeline.
        harness.advance(60)
        let again = try await harness.critical("market-data")
        #expect(again.id != incident.id)
        #expect(again.status == .open)
        #expect(try await harness.timeline(again.id).contains { $0.contains("within the cooldown") })
    }

    @Test func theCooldownHoldsBackTheSameAlertForAnHourButNotAWorseOne() async throws {
        let harness = try DeskHarness()
        let first = try await harness.desk.checkChanged(harness.check("market-data"), to: .warning, text: "stale", subject: nil, threshold: "> 30s")[0]
        _ = try await harness.healthy("market-data")
        let sentBefore = try await harness.messages.count
        harness.advance(1800)
        let second = try await harness.desk.checkChanged(harness.check("market-data"), to: .warning, text: "stale", subject: nil, threshold: "> 30s")[0]
        #expect(second.id != first.id)
        #expect(try await harness.messages.count == sentBefore)
        // Critical is worse than the last message's warning: it goes out inside the cooldown.
        _ = try await harness.critical("market-data")
        #expect(try await harness.messages.count == sentBefore + 2)
        _ = try await harness.healthy("market-data")
        // After the hour the same warning goes out again.
        harness.advance(3601)
        _ = try await harness.desk.checkChanged(harness.check("market-data"), to: .warning, text: "stale", subject: nil, threshold: "> 30s")
        #expect(try await harness.messages.last?.severity == "warning")
    }

    @Test func anOpenIncidentOfADependencyInhibitsTheDependentsNotifications() async throws {
        let harness = try DeskHarness()
        _ = try await harness.critical("market-data")
        let count = try await harness.messages.count
        let signals = try await harness.critical("signals-per-hour")
        #expect(try await harness.messages.count == count)
        #expect(try await harness.timeline(signals.id).contains { $0.contains("held back by incident") && $0.contains("market-data") })
        // Once market data is back, signal-rate alerts are its own again.
        _ = try await harness.healthy("market-data")
        _ = try await harness.healthy("signals-per-hour")
        harness.advance(7200)
        _ = try await harness.critical("signals-per-hour")
        #expect(try await harness.messages.last?.subject.contains("signals-per-hour") == true)
    }

    @Test func aSilenceHoldsNotificationsUntilItEnds() async throws {
        let harness = try DeskHarness()
        try await harness.desk.silence(check: "market-data", until: harness.now.addingTimeInterval(7200), reason: "broker maintenance", by: "maria")
        let incident = try await harness.critical("market-data")
        #expect(try await harness.messages.isEmpty)
        #expect(try await harness.timeline(incident.id).contains { $0.contains("silenced until") && $0.contains("broker maintenance") })
        // Nobody heard of it, so its resolve says nothing either.
        _ = try await harness.healthy("market-data")
        #expect(try await harness.messages.isEmpty)
        harness.advance(7201)
        _ = try await harness.critical("market-data")
        #expect(try await harness.messages.count == 2)
    }

    @Test func aServiceThatGaveUpIsLevelThreeAndRunningAgainResolvesIt() async throws {
        let harness = try DeskHarness()
        try await harness.desk.serviceChanged("signal-engine", state: .gaveUp, reason: "3 restarts within 1h")
        let incident = try #require(try await harness.records.incidents.unresolvedIncident(key: "service:signal-engine"))
        #expect(incident.level == 3)
        #expect(try await harness.messages.count == 2)
        try await harness.desk.serviceChanged("signal-engine", state: .running, reason: nil)
        #expect(try await harness.records.incidents.incident(incident.id)?.status == .resolved)
        #expect(try await harness.messages.last?.subject.hasPrefix("RESOLVED") == true)
    }

    @Test func levelFourIsNeverReachedByARunOnlyByAPerson() async throws {
        let harness = try DeskHarness()
        let incident = try await harness.critical("ea-heartbeat")
        try await harness.desk.runEnded(check: "ea-heartbeat", runID: 3, runbook: "ea-lost", status: .failed, escalationLevel: 4, error: nil)
        #expect(try await harness.records.incidents.incident(incident.id)?.level == 3)
        #expect(try await harness.timeline(incident.id).contains { $0.contains("runbook reset \(incident.id) --confirm") })
        try await harness.desk.reset(incident.id, by: "maria")
        #expect(try await harness.records.incidents.incident(incident.id)?.level == 4)
    }

    @Test func aChangeFromAnotherProcessIsNotOverwritten() async throws {
        let harness = try DeskHarness()
        let incident = try await harness.critical("market-data")
        // Another writer (a `runbook ack` elsewhere) changed it after this copy was read.
        try await harness.desk.acknowledge(incident.id, by: "maria")
        var stale = incident
        stale.level = 3
        await #expect(throws: IncidentConflict.self) { try await harness.records.incidents.apply(IncidentChange(incident: stale, events: [IncidentEvent(at: harness.now, kind: .level, actor: "x", detail: "x", level: 3)])) }
        #expect(try await harness.records.incidents.incident(incident.id)?.status == .acknowledged)
    }

    // MARK: Exposure

    @Test func anEALostWithOpenPositionsOpensAtLevelTwoSayingSoAndAFlatOneWaitsAtLevelOne() async throws {
        let harness = try DeskHarness()
        harness.held.set([Exposure(ea: "ea-01", positions: 3, lots: 1.2, fromReport: true)])
        let exposed = try await harness.critical("ea-heartbeat", subject: "ea-01")
        #expect(exposed.level == 2, "its recovery is not waited for")
        let message = try #require(try await harness.messages.first)
        #expect(message.level == 2 && message.body.contains("opened: ea-01 lost with 3 open positions, 1.2 lots"), "\(message.body)")
        #expect(try await harness.timeline(exposed.id).contains { $0.contains("ea-01 lost with 3 open positions, 1.2 lots: one level higher") })

        let flat = try await harness.critical("ea-heartbeat", subject: "ea-02")
        #expect(flat.level == 1)
        #expect(try await harness.messages.filter { $0.incidentID == flat.id }.isEmpty, "a flat EA's incident waits for ea-lost as before")
    }

    @Test func theCommandRouterDownWhileAnyEAHoldsPositionsStartsHigherWithEveryEAsExposure() async throws {
        let harness = try DeskHarness()
        let flat = try await harness.desk.checkChanged(harness.check("command-router"), to: .critical, text: "command-router failed", subject: "command-router", threshold: "> 0")[0]
        #expect(flat.level == 2)
        _ = try await harness.desk.checkChanged(harness.check("command-router"), to: .healthy, text: "running", subject: nil, threshold: "> 0")
        harness.held.set([Exposure(ea: "ea-01", positions: 2, lots: 0.8, fromReport: false), Exposure(ea: "ea-02", positions: 1, lots: 0.4, fromReport: true)])
        harness.advance(60)
        // Within the cooldown of the first message: sent all the same.
        let exposed = try await harness.desk.checkChanged(harness.check("command-router"), to: .critical, text: "command-router failed", subject: "command-router", threshold: "> 0")[0]
        #expect(exposed.id != flat.id && exposed.level == 3)
        let message = try #require(try await harness.messages.last { $0.incidentID == exposed.id })
        #expect(message.body.contains("command-router down with 3 open positions, 1.2 lots (ea-01: 2 open positions, 0.8 lots; ea-02: 1 open position, 0.4 lots)"), "\(message.body)")
        #expect(try await !harness.timeline(exposed.id).contains { $0.contains("within the cooldown") })
    }

    @Test func aWarningThatWaitsForItsCriticalIsPagedAtOnceWhenTheEAHoldsPositionsAndTheCooldownIsIgnored() async throws {
        let harness = try DeskHarness()
        let heartbeat = harness.check("ea-heartbeat")
        // The same EA lost and found once already: its last message is within the cooldown.
        harness.held.set([Exposure(ea: "ea-01", positions: 1, lots: 0.1, fromReport: false)])
        let first = try await harness.desk.checkChanged(heartbeat, to: .warning, text: "ea-01: last heartbeat 2m ago", subject: "ea-01", threshold: "> 120s")[0]
        #expect(first.level == 2)
        _ = try await harness.desk.checkChanged(heartbeat, to: .healthy, text: "ok", subject: nil, threshold: "> 120s")
        harness.advance(120)
        let second = try await harness.desk.checkChanged(heartbeat, to: .warning, text: "ea-01: last heartbeat 2m ago", subject: "ea-01", threshold: "> 120s")[0]
        #expect(second.level == 2)
        #expect(try await harness.messages.contains { $0.incidentID == second.id && $0.severity == "warning" }, "held positions ignore the cooldown")
        // Flat, the same warning waits at level 1 for its critical and ea-lost.
        _ = try await harness.desk.checkChanged(heartbeat, to: .healthy, text: "ok", subject: nil, threshold: "> 120s")
        harness.held.set([])
        let third = try await harness.desk.checkChanged(heartbeat, to: .warning, text: "ea-01: last heartbeat 2m ago", subject: "ea-01", threshold: "> 120s")[0]
        #expect(third.level == 1)
    }

    @Test func whenTheRecordsCannotSayWhatIsHeldALostEAIsPagedAtOnceSayingSo() async throws {
        let harness = try DeskHarness()
        harness.held.fail()
        let lost = try await harness.critical("ea-heartbeat", subject: "ea-01")
        #expect(lost.level == 2)
        let message = try #require(try await harness.messages.first)
        #expect(message.body.contains("ea-01 lost, and what the EAs hold cannot be read from the records (database is locked)"), "\(message.body)")
        // A check of something else waits as before.
        let market = try await harness.critical("market-data")
        #expect(market.level == 2)
    }

    @Test func onlyTheRouterAsAServiceIsTheTradePathNotAReadingThatNamesIt() async throws {
        let harness = try DeskHarness()
        harness.held.set([Exposure(ea: "ea-01", positions: 1, lots: 0.1, fromReport: true)])
        let strays = try await harness.desk.checkChanged(harness.check("router-peers"), to: .warning, text: "1 stray peer", subject: "command-router", threshold: "> 0")[0]
        #expect(strays.level == 2, "a stray peer on a running router is no router down")
        #expect(try await !harness.timeline(strays.id).contains { $0.contains("down with") })
    }

    @Test func aMissedScheduledFireOpensAnIncidentAtLevelTwoAndTheNextRunResolvesIt() async throws {
        let harness = try DeskHarness()
        let due = Date(timeIntervalSince1970: 1_790_000_000)
        let missed = try await harness.desk.scheduleMissed("daily-backup", runbook: "daily-backup", dueAt: [due], reason: "the run of the fire before was still going (overlap: skip)")
        #expect(missed.level == 2 && missed.key == "schedule:daily-backup" && missed.severity == .warning)
        let message = try #require(try await harness.messages.first)
        #expect(message.subject.contains("schedule daily-backup (daily-backup): the fire at 2026-09-21T14:13:20Z did not run: the run of the fire before was still going"), "\(message.subject)")
        // Told once: it does not climb to level 3 by time.
        try await harness.pass(3600)
        #expect(try await harness.records.incidents.incident(missed.id)?.level == 2)
        // Another miss lands on the same incident.
        let again = try await harness.desk.scheduleMissed("daily-backup", runbook: "daily-backup", dueAt: [due.addingTimeInterval(86_400)], reason: "x")
        #expect(again.id == missed.id)
        try await harness.desk.scheduleRan("daily-backup", dueAt: due.addingTimeInterval(2 * 86_400))
        #expect(try await harness.records.incidents.incident(missed.id)?.status == .resolved)
        #expect(try await harness.messages.last?.subject.hasPrefix("RESOLVED") == true, "whoever heard of it hears it ran again")
        // A schedule that never missed a fire: its runs change nothing.
        try await harness.desk.scheduleRan("hourly-report", dueAt: due)
        #expect(try await harness.records.incidents.unresolvedIncidents().isEmpty)
    }

    @Test func theMissedFireIncidentOfAScheduleThatIsGoneIsResolvedWhenTheSchedulerStarts() async throws {
        let harness = try DeskHarness()
        let due = Date(timeIntervalSince1970: 1_790_000_000)
        let gone = try await harness.desk.scheduleMissed("old-backup", runbook: "daily-backup", dueAt: [due], reason: "the engine was down")
        let kept = try await harness.desk.scheduleMissed("weekly-archive", runbook: "weekly-archive", dueAt: [due], reason: "the engine was down")
        try await harness.desk.schedulesGone(keeping: ["weekly-archive", "daily-backup"])
        #expect(try await harness.records.incidents.incident(gone.id)?.status == .resolved)
        #expect(try await harness.timeline(gone.id).contains { $0.contains("no longer among those the engine runs") })
        #expect(try await harness.records.incidents.incident(kept.id)?.status == .open, "a schedule still there resolves by running")
    }
}
