import Foundation
import Logging
import RunbookCore
import RunbookModel
import RunbookSteps
import Synchronization

/// Opens, raises, acknowledges, silences and resolves incidents, and writes each notification to
/// the outbox: the escalation policy applied. Every decision is read from and written to the
/// store, so that the engine and a `runbook ack` in another process work on the same incidents,
/// and incidents outlive an engine restart.
public final class IncidentDesk: Sendable {
    public let store: any IncidentStore
    public let policy: EscalationPolicy
    /// The configured channels' names.
    public let channels: [String]
    private let checks: @Sendable () -> [Check]
    let now: @Sendable () -> Date
    public let logger: Logger
    /// Told when a message is queued, so that the outbox worker sends it without waiting.
    private let queued: Mutex<(@Sendable () -> Void)?> = Mutex(nil)
    /// Each check's latest reading, unknown ones aside: a message says what its check measures
    /// when the message is queued, not what it measured when the incident opened.
    private let readings: Mutex<[String: CheckResult]> = Mutex([:])
    /// This engine's name where engines share the incidents (a fleet); nil for the sole engine.
    /// A local check's incidents and a service's are keyed with it (`check:NAME@ENGINE`), so that
    /// each engine's stay its own; a shared check's are the fleet's, one per key.
    private let engine: String?
    /// Whether this engine leads its fleet: the leader climbs the incidents of no engine.
    private let leadership: any Leadership
    /// What each EA holds open, from the records: an incident about an EA holding positions, or
    /// about the command router or the confirmation listener while any EA does, starts a level
    /// higher. Nil: exposure is not known here.
    private let exposure: (@Sendable () async throws -> [Exposure])?
    /// The market's calendar, which a maintenance window `during: weekend` or `closed` follows.
    public let market: MarketCalendar
    /// Unresolved incidents, by id, found holding no message for a maintenance window, with the
    /// version they were found at: the desk's tick reads their timelines again only once they change.
    let unheld: Mutex<[Int64: Int]> = Mutex([:])
    /// Level-1 incidents whose recovery a maintenance window holds back (`hold_runs`), by id,
    /// with the window: they do not climb meanwhile, and their grace starts afresh at its end.
    let heldRecoveries: Mutex<[Int64: Int64]> = Mutex([:])

    public init(
        store: any IncidentStore, policy: EscalationPolicy, channels: [String], checks: @escaping @Sendable () -> [Check] = { [] },
        logger: Logger = Logger(label: "runbook.incidents"), now: @escaping @Sendable () -> Date = { Date() }, engine: String? = nil,
        leadership: any Leadership = SoleEngine(), exposure: (@Sendable () async throws -> [Exposure])? = nil, market: MarketCalendar = MarketCalendar()
    ) {
        self.market = market
        self.exposure = exposure
        self.engine = engine
        self.leadership = leadership
        self.store = store
        self.policy = policy
        self.channels = channels
        self.checks = checks
        self.logger = logger
        self.now = now
    }

    /// Called whenever messages are queued (the outbox worker's wake-up).
    public func onQueued(_ wake: @escaping @Sendable () -> Void) {
        queued.withLock { $0 = wake }
    }

    // MARK: - What happens

    /// A check was evaluated, whether or not its state changed: the reading its incident's next
    /// message gives.
    public func checkEvaluated(_ result: CheckResult) {
        guard result.status != .unknown else { return }
        readings.withLock { $0[result.check] = result }
    }

    /// A check changed state: a bad state opens (or worsens) the incident of the check and its
    /// subject; a good one resolves the check's incidents.
    @discardableResult
    public func checkChanged(_ check: Check, to status: CheckStatus, text: String, subject: String?, threshold: String) async throws -> [Incident] {
        let reading = CheckResult(check: check.name, status: status, value: nil, text: text, subject: subject, threshold: threshold, at: now())
        checkEvaluated(reading)
        switch status {
        case .warning, .critical:
            let severity: Severity = status == .critical ? .critical : .warning
            let key = checkKey(check.name) + (subject.map { ":\($0)" } ?? "")
            let action = status == .critical ? check.onCritical : check.onWarning
            let title = title(of: reading)
            // Level 1 when the check has a runbook to recover by itself, or a warning that has
            // none waits for its critical's runbook: people hear of it only if that does not work.
            var level = action != nil || (status == .warning && check.onCritical != nil) ? 1 : 2
            var detail = title
            // Open positions do not wait for a recovery to be tried, nor for the cooldown.
            let exposed = await exposureNote(check: check, subject: subject)
            if let exposed {
                level = min(level + 1, 3)
                detail += "; \(exposed): one level higher"
            }
            return [try await raise(
                key: key, check: check.name, subject: subject, title: title, severity: severity, level: level, actor: "check \(check.name)", detail: detail, exposed: exposed
            )]
        case .healthy, .idle:
            return try await resolve(where: { self.isOf($0, check: check.name) }, actor: "check \(check.name)", detail: "\(check.name) is \(status.rawValue) again")
        case .unknown:
            return []
        }
    }

    /// A run a check started has begun: on the timeline of the check's incident, so that it shows
    /// how long the recovery took as well as how it ended.
    public func runBegan(check: String, runID: Int64, runbook: String) async throws {
        for incident in try await store.unresolvedIncidents() where isOf(incident, check: check) {
            try await modify(incident.id) { incident, change, at in
                change.events.append(IncidentEvent(at: at, kind: .run, actor: "run \(runID)", detail: "run \(runID) (\(runbook)) started", level: incident.level, runID: runID))
            }
        }
    }

    /// A run a check started has ended: linked to the check's incident, and a failure (or an
    /// escalation the run asked for) raises it to at least level 2.
    public func runEnded(check: String, runID: Int64, runbook: String, status: RunStatus, escalationLevel: Int, error: String?) async throws {
        for incident in try await store.unresolvedIncidents() where isOf(incident, check: check) {
            let failed = status != .succeeded
            var detail = "run \(runID) (\(runbook)) \(status.rawValue)" + (error.map { ": \($0)" } ?? "")
            var target = failed ? max(2, escalationLevel) : escalationLevel
            if target == 4 {
                target = 3
                detail += "; level 4 (emergency-recovery) needs a person: runbook reset \(incident.id) --confirm"
            }
            try await modify(incident.id) { incident, change, at in
                change.events.append(IncidentEvent(at: at, kind: .run, actor: "run \(runID)", detail: detail, level: incident.level, runID: runID))
                if target > incident.level { await self.climbUnlessHeld(&incident, &change, to: target, at: at, actor: "run \(runID)", why: detail) }
            }
        }
    }

    /// A runbook's `escalate` step: raises the incident of the check that started the run, or
    /// of the runbook itself when no check did.
    public func escalateRun(_ runID: Int64, runbook: String, level requested: Int, reason: String) async throws -> Incident {
        let check = try await store.checkOfRun(runID)
        let key: String
        if let name = check {
            // The check's open incident, whatever its subject; a new one keyed by the check when none is open.
            key = (try? await store.unresolvedIncidents().first { self.isOf($0, check: name) }?.key) ?? checkKey(name)
        } else {
            key = "runbook:\(runbook)"
        }
        let level = min(requested, 3)
        var detail = "run \(runID) (\(runbook)) escalated to level \(requested)" + (reason.isEmpty ? "" : ": \(reason)")
        if requested == 4 { detail += "; level 4 (emergency-recovery) needs a person: runbook reset ID --confirm" }
        let title = check.map { "\($0): \(reason.isEmpty ? "escalated by \(runbook)" : reason)" } ?? "\(runbook): \(reason.isEmpty ? "escalated" : reason)"
        return try await raise(key: key, check: check, subject: nil, title: title, severity: .critical, level: level, actor: "run \(runID)", detail: detail, runID: runID)
    }

    /// A supervised service changed state: `gave-up` (its restart budget spent) is level 3;
    /// running again resolves it.
    public func serviceChanged(_ service: String, state: ServiceState, reason: String?) async throws {
        let key = "service:\(service)" + (engine.map { "@\($0)" } ?? "")
        if state == .gaveUp {
            let title = "service \(service) gave up: \(reason ?? "its restart budget is spent")"
            let exposed = await exposureNote(check: nil, subject: service)
            try await raise(
                key: key, check: nil, subject: service, title: title, severity: .critical, level: 3, actor: "supervisor",
                detail: title + (exposed.map { "; \($0)" } ?? ""), exposed: exposed
            )
        } else if state == .running {
            _ = try await resolve(where: { $0.key == key }, actor: "supervisor", detail: "service \(service) runs again")
        }
    }

    /// Fires of a schedule that will not run (the engine was down past the catch-up window, a run
    /// still going at the next fire, a runbook that cannot start): the schedule's incident opens
    /// at level 2, so that silence about a job never means it ran.
    @discardableResult
    public func scheduleMissed(_ schedule: String, runbook: String, dueAt: [Date], reason: String) async throws -> Incident {
        let times = dueAt.prefix(3).map(Self.stamp).joined(separator: ", ") + (dueAt.count > 3 ? " and \(dueAt.count - 3) more" : "")
        let title = "schedule \(schedule) (\(runbook)): the fire at \(times) did not run: \(reason)"
        return try await raise(key: "schedule:\(schedule)", check: nil, subject: schedule, title: title, severity: .warning, level: 2, actor: "scheduler", detail: title)
    }

    /// A fire of the schedule started its run: its missed-fire incident is over.
    public func scheduleRan(_ schedule: String, dueAt: Date) async throws {
        _ = try await resolve(where: { $0.key == "schedule:\(schedule)" }, actor: "scheduler", detail: "schedule \(schedule) ran again (the fire at \(Self.stamp(dueAt)))")
    }

    /// The missed-fire incidents of schedules not among `names` (deleted or renamed since) are
    /// over: nothing runs under that name to resolve them.
    public func schedulesGone(keeping names: Set<String>) async throws {
        _ = try await resolve(
            where: { $0.key.hasPrefix("schedule:") && !names.contains(String($0.key.dropFirst("schedule:".count))) }, actor: "scheduler",
            detail: "the schedule is no longer among those the engine runs (deleted, renamed, or left out for an error the log names): it has nothing more to miss"
        )
    }

    /// A person took the incident: no more notifications of it until it resolves (a new
    /// incident of the same key notifies again).
    @discardableResult
    public func acknowledge(_ id: Int64, by person: String) async throws -> Incident {
        try await modify(id) { incident, change, at in
            guard incident.status == .open else { return }
            incident.status = .acknowledged
            incident.acknowledgedAt = at
            incident.acknowledgedBy = person
            change.events.append(IncidentEvent(at: at, kind: .acknowledged, actor: person, detail: "acknowledged by \(person)", level: incident.level))
        }
    }

    /// A person closes the incident (one a runbook's `escalate` opened, which no check resolves);
    /// whoever heard of it hears it is over.
    @discardableResult
    public func resolve(_ id: Int64, by person: String) async throws -> Incident? {
        try await resolve(where: { $0.id == id }, actor: person, detail: "resolved by \(person)").first
    }

    /// Holds back the notifications of `check` until `until`; recorded on its open incidents.
    @discardableResult
    public func silence(check: String, until: Date, reason: String, by person: String) async throws -> Silence {
        try Self.refuseUnprintable(reason: reason, by: person)
        let silence = try await store.addSilence(Silence(check: check, until: until, reason: reason, by: person, createdAt: now()))
        for incident in try await store.unresolvedIncidents() where incident.check == check || (incident.check != nil && check == MaintenanceWindow.everyCheck) {
            try await modify(incident.id) { incident, change, at in
                change.events.append(IncidentEvent(at: at, kind: .silenced, actor: person, detail: "silenced until \(Self.stamp(until)): \(reason)", level: incident.level))
            }
        }
        return silence
    }

    /// Level 4, by a person only: recorded and notified; the caller runs `emergency-recovery`.
    @discardableResult
    public func reset(_ id: Int64, by person: String) async throws -> Incident {
        try await modify(id) { incident, change, at in
            guard incident.status != .resolved else { return }
            await self.climb(&incident, &change, to: 4, at: at, actor: person, why: "system reset confirmed by \(person): emergency-recovery runs")
        }
    }

    /// A person's act or attempt on the incident's timeline, as it is (a refusal, a confirmation).
    public func note(_ id: Int64, kind: IncidentEvent.Kind, actor: String, detail: String) async throws {
        try await modify(id) { incident, change, at in
            change.events.append(IncidentEvent(at: at, kind: kind, actor: actor, detail: detail, level: incident.level))
        }
    }

    /// A run linked to an incident by hand (emergency-recovery for a reset).
    public func link(run runID: Int64, to id: Int64, detail: String) async throws {
        try await modify(id) { incident, change, at in
            change.events.append(IncidentEvent(at: at, kind: .run, actor: "run \(runID)", detail: detail, level: incident.level, runID: runID))
        }
    }

    /// Climbs every open (unacknowledged) incident that has stayed at its level longer than it
    /// may (`climbWait`), unless it is held back; never to level 4. Called each second by the
    /// engine; tests call it with their own time.
    public func tick() async throws {
        let at = now()
        let unresolved = try await store.unresolvedIncidents()
        // An incident whose message a window holds does not climb meanwhile: the window is quiet
        // hours, and its message goes (or is dropped) at the end, its climb counted afresh then.
        let held = try await releaseHeld(among: unresolved, at: at)
        var windows: [MaintenanceWindow]?
        for incident in unresolved where incident.status == .open && incident.level < 3 && climbsHere(incident) && !held.contains(incident.id) {
            if try await recoveryHeld(incident, at: at, windows: &windows) { continue }
            guard let wait = climbWait(incident), at.timeIntervalSince(incident.levelAt) >= wait.seconds,
                  await holder(of: incident.check, key: incident.key, besides: incident.id, among: unresolved) == nil
            else { continue }
            let (level, since) = (incident.level, incident.levelAt)
            let why = level == 1
                ? "still \(incident.severity.rawValue) after \(DurationText.format(wait)) at level 1"
                : "unacknowledged for \(DurationText.format(wait)) at level 2"
            try await modify(incident.id) { incident, change, at in
                guard incident.status == .open, incident.level == level, incident.levelAt == since else { return }
                await self.climb(&incident, &change, to: level + 1, at: at, actor: "engine", why: why)
            }
        }
    }

    /// How long `incident` stays at its level before it climbs by itself; nil when it waits for
    /// something else. At level 2 that is `climb_after`. At level 1 it is the grace the recovery
    /// has while its check still reads bad, never shorter than the check takes to see a
    /// recovery; a warning whose check has a runbook for critical only waits for that critical,
    /// and an incident no check opened waits for a run to raise it.
    private func climbWait(_ incident: Incident) -> Duration? {
        // A missed scheduled fire is told once, at level 2: it is no emergency to climb.
        if incident.key.hasPrefix("schedule:") { return nil }
        guard incident.level == 1 else { return policy.levels[incident.level]?.climbAfter }
        guard let name = incident.check, let grace = policy.levels[1]?.climbAfter,
              readings.withLock({ $0[name] })?.status.isBad == true
        else { return nil }
        guard let check = checks().first(where: { $0.name == name }) else { return grace }
        if incident.severity == .warning, check.onWarning == nil, check.onCritical != nil { return nil }
        return max(grace, check.interval * check.recoverAfter)
    }

    /// Queues a message that is not about an incident (a report, a summary).
    public func notice(subject: String, body: String, severity: String, channels requested: [String], approval: Int64? = nil) async throws -> [String] {
        let targets = requested.isEmpty ? policy.channels(for: 2, configured: channels) : requested
        if let unknown = targets.first(where: { !channels.contains($0) }) {
            throw EscalationError("no channel named '\(unknown)'\(Suggestion.hint(for: unknown, in: channels)); channels: \(channels.joined(separator: ", "))")
        }
        guard !targets.isEmpty else { throw EscalationError("no channels are configured: add channels: to runbook.yaml") }
        let at = now()
        try await store.enqueue(targets.map {
            OutboxEntry(incidentID: 0, sequence: 0, channel: $0, level: 0, severity: severity, subject: subject, body: body, createdAt: at, approval: approval)
        })
        wake()
        return targets
    }

    // MARK: - The rules

    /// Opens the incident of `key` at `level`, or raises the open one to it; notifies when the
    /// rules allow.
    @discardableResult
    private func raise(
        key: String, check: String?, subject: String?, title: String, severity: Severity, level: Int, actor: String, detail: String, runID: Int64? = nil,
        exposed: String? = nil
    ) async throws -> Incident {
        for _ in 0..<5 {
            let at = now()
            do {
                if let open = try await store.unresolvedIncident(key: key) {
                    var incident = open
                    var change = IncidentChange(incident: incident)
                    if runID != nil {
                        change.events.append(IncidentEvent(at: at, kind: .run, actor: actor, detail: detail, level: incident.level, runID: runID))
                    }
                    if severity > incident.severity {
                        incident.severity = severity
                        incident.title = title
                        change.events.append(IncidentEvent(at: at, kind: .severity, actor: actor, detail: "now \(severity.rawValue): \(title)", level: incident.level))
                        if incident.level >= 2 {
                            await notify(&incident, &change, at: at, why: "severity \(severity.rawValue)", bypassCooldown: true, throughWindows: exposed != nil)
                        } else {
                            // The recovery's grace counts from the state its runbook is for.
                            incident.levelAt = at
                        }
                    }
                    if level > incident.level { await climbUnlessHeld(&incident, &change, to: level, at: at, actor: actor, why: detail, urgent: exposed != nil) }
                    if change.events.isEmpty { return incident }
                    change.incident = incident
                    return try await commit(change)
                }
                // Held back, it waits at level 1 while the incident that explains it is open.
                let cause = await holder(of: check, key: key, besides: 0)
                let requested = level
                let level = cause == nil ? requested : 1
                var incident = Incident(key: key, check: check, subject: subject, title: title, severity: severity, level: level, openedAt: at)
                var change = IncidentChange(incident: incident)
                change.events.append(IncidentEvent(at: at, kind: .opened, actor: actor, detail: "\(detail); level \(level) (\(Incident.levelName(level)))", level: level, runID: runID))
                if let cause, requested > level { change.events.append(held(incident, by: cause, level: requested, at: at)) }
                // A run's reason is said in the body: the title gives the check's reading.
                if level >= 2 {
                    let headline = exposed.map { "opened: \($0)" } ?? (runID == nil ? nil : detail)
                    await notify(&incident, &change, at: at, why: "opened", headline: headline, bypassCooldown: exposed != nil, throughWindows: exposed != nil)
                }
                change.incident = incident
                let stored = try await commit(change)
                logger.warning("incident \(stored.id) opened at level \(level): \(title)", metadata: ["incident": "\(stored.id)"])
                return stored
            } catch is IncidentConflict {
                continue
            }
        }
        throw EscalationError("incident \(key) kept changing under this update; try again")
    }

    private func resolve(where matches: (Incident) -> Bool, actor: String, detail: String) async throws -> [Incident] {
        var resolved: [Incident] = []
        for incident in try await store.unresolvedIncidents() where matches(incident) {
            resolved.append(try await modify(incident.id) { incident, change, at in
                guard incident.status != .resolved else { return }
                incident.status = .resolved
                incident.resolvedAt = at
                self.refreshTitle(&incident)
                change.events.append(IncidentEvent(at: at, kind: .resolved, actor: actor, detail: detail, level: incident.level))
                // Whoever heard of it hears it is over, acknowledged, silenced or not.
                let told = (try? await self.store.channelsNotified(incident: incident.id)) ?? []
                if !told.isEmpty {
                    let subject = "RESOLVED \(incident.title)"
                    let body = self.body(incident, headline: detail, at: at)
                    self.queue(&incident, &change, subject: subject, body: body, severity: "resolved", to: told, at: at, why: "resolved")
                }
            })
            logger.notice("incident \(incident.id) resolved: \(detail)", metadata: ["incident": "\(incident.id)"])
        }
        try await release(after: resolved)
        return resolved
    }

    /// Climbs to `level`, unless an incident of a check this one depends on is open: then it
    /// stays where it is, and starts over once that incident resolves (`release`).
    private func climbUnlessHeld(_ incident: inout Incident, _ change: inout IncidentChange, to level: Int, at: Date, actor: String, why: String, urgent: Bool = false) async {
        if let cause = await holder(of: incident.check, key: incident.key, besides: incident.id) {
            change.events.append(held(incident, by: cause, level: level, at: at, why: why))
            return
        }
        await climb(&incident, &change, to: level, at: at, actor: actor, why: why, urgent: urgent)
    }

    /// The flows every fire and its answer cross: while one is down, every EA's open positions
    /// are at stake.
    static let tradePath: Set<String> = ["command-router", "confirmation-listener"]

    /// What is at stake when an incident is about `subject`: `ea-01 lost with 3 open positions,
    /// 1.2 lots` for an EA holding positions, every EA's for the command router or the
    /// confirmation listener; nil when flat, or when the records cannot say (then the incident
    /// waits as any other).
    private func exposureNote(check: Check?, subject: String?) async -> String? {
        guard let exposure, let subject else { return nil }
        // The router or the listener as a service (a check of the service, or its supervisor),
        // not any reading that happens to name it.
        let tradePath = Self.tradePath.contains(subject) && (check == nil || check?.probe.kind == "service")
        let lost = check?.probe.kind == "ea_heartbeat"
        let held: [Exposure]
        do {
            held = try await exposure()
        } catch {
            logger.warning("cannot read the EAs' open positions for an incident about \(subject): \(error)")
            // What is held cannot be told: for a lost EA or the trade path, assume the worst.
            guard tradePath || lost else { return nil }
            return "\(printable(subject)) \(lost ? "lost" : "down"), and what the EAs hold cannot be read from the records (\(error))"
        }
        if tradePath {
            guard !held.isEmpty else { return nil }
            let total = Exposure(ea: "", positions: held.reduce(0) { $0 + $1.positions }, lots: held.reduce(0) { $0 + $1.lots }, fromReport: false)
            let each = held.prefix(10).map { "\(printable($0.ea)): \($0.text)" }.joined(separator: "; ") + (held.count > 10 ? "; \(held.count - 10) more EAs" : "")
            return "\(subject) down with \(total.text) (\(each))"
        }
        guard let mine = held.first(where: { $0.ea == subject }) else { return nil }
        return "\(printable(subject)) \(lost ? "lost with" : "holds") \(mine.text)"
    }

    /// The unresolved incident of a check that `check` depends on (other than `id`), which
    /// explains this one: while it is open this one tells nobody and does not climb.
    private func holder(of check: String?, key: String, besides id: Int64, among unresolved: [Incident]? = nil) async -> Incident? {
        let dependencies = dependencies(of: check)
        guard !dependencies.isEmpty else { return nil }
        let open: [Incident]
        if let unresolved { open = unresolved } else { open = (try? await store.unresolvedIncidents()) ?? [] }
        return open.first { $0.id != id && ($0.check.map(dependencies.contains) ?? false) && Self.explains($0, key) }
    }

    /// Whether an incident can explain the incident keyed `key`: one of the same engine, or of none.
    private static func explains(_ cause: Incident, _ key: String) -> Bool {
        guard let owner = owner(of: cause.key) else { return true }
        return owner == Self.owner(of: key)
    }

    /// The key of `check`'s incidents here: `check:NAME`, with `@ENGINE` for a local check of an
    /// engine of a fleet.
    func checkKey(_ check: String) -> String {
        guard let engine, !(checks().first { $0.name == check }?.shared ?? false) else { return "check:\(check)" }
        return "check:\(check)@\(engine)"
    }

    /// Whether `incident` is `check`'s here (of this engine, or of the fleet for a shared check).
    func isOf(_ incident: Incident, check: String) -> Bool {
        let key = checkKey(check)
        return incident.check == check && (incident.key == key || incident.key.hasPrefix(key + ":"))
    }

    /// The engine an incident's key names (`check:NAME@ENGINE:subject`, `service:NAME@ENGINE`).
    static func owner(of key: String) -> String? {
        let parts = key.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2, let at = parts[1].firstIndex(of: "@") else { return nil }
        return String(parts[1][parts[1].index(after: at)...])
    }

    /// Whether this engine climbs `incident`: its own, and on the leader those of no engine.
    /// Each is climbed by one engine, which reads its check.
    func climbsHere(_ incident: Incident) -> Bool {
        guard let engine else { return true }
        guard let owner = Self.owner(of: incident.key) else { return leadership.isLeading }
        return owner == engine
    }

    /// The checks `check` names in `depends_on`.
    private func dependencies(of check: String?) -> [String] {
        checks().first { $0.name == check }?.dependsOn.map(\.check) ?? []
    }

    private static func heldBack(_ check: String?, by cause: Incident) -> String {
        "held back by incident \(cause.id) of \(cause.check ?? cause.key), which \(check ?? "it") depends on"
    }

    /// The timeline's note of a level an incident did not take because it is held back.
    private func held(_ incident: Incident, by cause: Incident, level: Int, at: Date, why: String? = nil) -> IncidentEvent {
        IncidentEvent(
            at: at, kind: .suppressed, actor: "engine",
            detail: "level \(level) waits\(why.map { " (\($0))" } ?? ""): \(Self.heldBack(incident.check, by: cause))", level: incident.level
        )
    }

    /// The incidents that `resolved` held back, and nothing else holds back now, start over: from
    /// level 1 when nobody has heard of them, with a fresh climb clock, so that what their check
    /// still reads once the cause is gone gets its own recovery and hysteresis before anyone is
    /// told.
    private func release(after resolved: [Incident]) async throws {
        let causes = resolved.filter { $0.check != nil }
        guard !causes.isEmpty else { return }
        let unresolved = try await store.unresolvedIncidents()
        for dependent in unresolved {
            let dependencies = dependencies(of: dependent.check)
            guard let cause = causes.first(where: { ($0.check.map(dependencies.contains) ?? false) && Self.explains($0, dependent.key) }),
                  await holder(of: dependent.check, key: dependent.key, besides: dependent.id, among: unresolved) == nil
            else { continue }
            let told = !(try await store.channelsNotified(incident: dependent.id)).isEmpty
            try await modify(dependent.id) { incident, change, at in
                guard incident.status != .resolved else { return }
                if !told { incident.level = 1 }
                incident.levelAt = at
                change.events.append(IncidentEvent(
                    at: at, kind: .level, actor: "engine",
                    detail: "level \(incident.level) (\(Incident.levelName(incident.level))) from now, its climb counted afresh: incident \(cause.id) of \(cause.check ?? cause.key), which held it back, is resolved",
                    level: incident.level
                ))
            }
        }
    }

    private func climb(_ incident: inout Incident, _ change: inout IncidentChange, to level: Int, at: Date, actor: String, why: String, urgent: Bool = false) async {
        incident.level = level
        incident.levelAt = at
        change.events.append(IncidentEvent(at: at, kind: .level, actor: actor, detail: "level \(level) (\(Incident.levelName(level))): \(why)", level: level))
        logger.warning("incident \(incident.id) at level \(level): \(why)", metadata: ["incident": "\(incident.id)"])
        await notify(
            &incident, &change, at: at, why: "level \(level)", headline: "level \(level) (\(Incident.levelName(level))): \(why)", bypassCooldown: level >= 3 || urgent,
            throughWindows: urgent
        )
    }

    /// Queues the incident's notification for its level's channels, unless it is acknowledged,
    /// silenced, held back by an incident of a check it depends on, or within the cooldown of
    /// the same key; each of those is recorded instead. The body says `headline`, or `why`.
    ///
    /// Level 3 and above, and an incident of exposure (`throughWindows`), go through maintenance
    /// windows and silences of `all`: a plan for quiet hours never hides a page that must wake
    /// someone. A silence of the check by name still holds them.
    func notify(
        _ incident: inout Incident, _ change: inout IncidentChange, at: Date, why: String, headline: String? = nil, bypassCooldown: Bool, throughWindows: Bool = false
    ) async {
        let urgent = incident.level >= 3 || throughWindows
        let targets = policy.channels(for: incident.level, configured: channels)
        func suppressed(_ reason: String) {
            change.events.append(IncidentEvent(at: at, kind: .suppressed, actor: "engine", detail: "\(why): not sent: \(reason)", level: incident.level))
        }
        if incident.status == .acknowledged { return suppressed("acknowledged by \(incident.acknowledgedBy ?? "someone")") }
        if targets.isEmpty { return suppressed("no channels configured for level \(incident.level)") }
        if let check = incident.check {
            if let silence = (try? await store.silences(activeAt: at))?.first(where: { $0.check == check || (!urgent && $0.check == MaintenanceWindow.everyCheck) }) {
                return suppressed("\(check) silenced until \(Self.stamp(silence.until)) by \(silence.by): \(silence.reason)")
            }
            if let cause = await holder(of: check, key: incident.key, besides: incident.id) {
                return suppressed(Self.heldBack(check, by: cause))
            }
        }
        if !urgent, let (window, span) = await windowInForce(over: incident, at: at) {
            change.events.append(IncidentEvent(
                at: at, kind: .held, actor: Self.actor(of: window),
                detail: "\(why): held by maintenance window \(window.id) until \(Self.stamp(span.end)): \(window.reason)", level: incident.level
            ))
            return
        }
        if !bypassCooldown, let last = try? await store.lastNotification(key: incident.key), last.severity >= incident.severity,
           at.timeIntervalSince(last.at) < policy.cooldown.seconds {
            return suppressed("within the cooldown of \(DurationText.format(policy.cooldown)) (the last message of \(incident.key) was at \(Self.stamp(last.at)))")
        }
        refreshTitle(&incident)
        let label = incident.severity.rawValue.uppercased()
        queue(&incident, &change, subject: "\(label) L\(incident.level) \(incident.title)", body: body(incident, headline: headline ?? why, at: at), severity: incident.severity.rawValue, to: targets, at: at, why: why)
    }

    /// What an incident of a check is about: the check, its subject, its reading and the limit.
    /// In a fleet, a local check's says which engine read it.
    func title(of reading: CheckResult) -> String {
        let engine = checkKey(reading.check).contains("@") ? engine.map { " on \($0)" } ?? "" : ""
        return "\(reading.check)\(reading.subject.map { " [\($0)]" } ?? "")\(engine): \(reading.text) (\(reading.threshold))"
    }

    /// Puts the latest reading of the incident's check in its title, for the message about to go
    /// (this engine's reading, of this engine's incident).
    private func refreshTitle(_ incident: inout Incident) {
        guard let check = incident.check, isOf(incident, check: check), let reading = readings.withLock({ $0[check] }) else { return }
        incident.title = title(of: reading)
    }

    private func queue(_ incident: inout Incident, _ change: inout IncidentChange, subject: String, body: String, severity: String, to targets: [String], at: Date, why: String) {
        incident.lastSequence += 1
        for channel in targets {
            change.messages.append(OutboxEntry(
                incidentID: incident.id, sequence: incident.lastSequence, channel: channel, level: incident.level, severity: severity,
                subject: subject, body: body, createdAt: at
            ))
        }
        change.events.append(IncidentEvent(at: at, kind: .notified, actor: "engine", detail: "\(why): message \(incident.lastSequence) queued for \(targets.joined(separator: ", "))", level: incident.level))
    }

    private func body(_ incident: Incident, headline: String, at: Date) -> String {
        let id = incident.id == 0 ? Incident.idPlaceholder : String(incident.id)
        var lines = [
            "Incident \(id): \(incident.title)",
            "Level \(incident.level) (\(Incident.levelName(incident.level))), \(incident.severity.rawValue), \(incident.status.rawValue)",
            "Opened \(Self.stamp(incident.openedAt)); now \(Self.stamp(at)): \(headline)",
        ]
        if incident.status == .open {
            lines.append("Acknowledge: runbook ack \(id)")
        }
        return lines.joined(separator: "\n")
    }

    // MARK: - Storage

    /// Reads incident `id`, lets `body` change it, and stores the change; redone when another
    /// writer got there first.
    @discardableResult
    func modify(_ id: Int64, _ body: (inout Incident, inout IncidentChange, Date) async -> Void) async throws -> Incident {
        for _ in 0..<5 {
            guard var incident = try await store.incident(id) else { throw EscalationError("no incident \(id): `runbook incidents` lists them") }
            var change = IncidentChange(incident: incident)
            await body(&incident, &change, now())
            if change.events.isEmpty { return incident }
            change.incident = incident
            do {
                return try await commit(change)
            } catch is IncidentConflict {
                continue
            }
        }
        throw EscalationError("incident \(id) kept changing under this update; try again")
    }

    private func commit(_ change: IncidentChange) async throws -> Incident {
        let stored = try await store.apply(change)
        if !change.messages.isEmpty { wake() }
        return stored
    }

    private func wake() {
        queued.withLock { $0 }?()
    }

    static func stamp(_ date: Date) -> String {
        date.formatted(.iso8601.year().month().day().dateSeparator(.dash).time(includingFractionalSeconds: false).timeSeparator(.colon)) + "Z"
    }
}

/// A request the incidents cannot carry out, with what to do.
public struct EscalationError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

extension IncidentDesk: Escalating {
    public func escalate(runID: Int64, runbook: String, level: Int, reason: String) async throws -> String {
        let incident = try await escalateRun(runID, runbook: runbook, level: level, reason: reason)
        return "incident \(incident.id) at level \(incident.level)"
    }

    public func notify(runID: Int64, runbook: String, subject: String, message: String, severity: Severity, channels: [String]) async throws -> String {
        let sent = try await notice(subject: subject, body: message + "\n\n(run \(runID) of \(runbook))", severity: severity.rawValue, channels: channels)
        return "queued for \(sent.joined(separator: ", "))"
    }

    public func askApproval(runID: Int64, question: Int64, runbook: String, subject: String, message: String, channels: [String]) async throws -> String {
        let sent = try await notice(subject: subject, body: message, severity: Severity.warning.rawValue, channels: channels, approval: question)
        return "asked on \(sent.joined(separator: ", "))"
    }
}
