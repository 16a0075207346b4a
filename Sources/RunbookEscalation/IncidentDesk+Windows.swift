import Foundation
import RunbookModel

/// A maintenance window as `runbook silences` and the API show it at an instant.
public struct MaintenanceWindowState: Sendable, Equatable {
    public var window: MaintenanceWindow
    /// When the window in force now ends; nil when it is not in force.
    public var inForceUntil: Date?
    /// Its next start after now; nil when none comes within the time looked at.
    public var nextStart: Date?

    public init(window: MaintenanceWindow, inForceUntil: Date?, nextStart: Date?) {
        self.window = window
        self.inForceUntil = inForceUntil
        self.nextStart = nextStart
    }

    /// The zone a cron window reads its expression in; New York's for one the market calendar
    /// gives, whose days roll at 17:00 there.
    public var zone: TimeZone {
        if case .cron(_, let zone, _) = window.recurrence { return zone }
        return MarketCalendar.zone
    }

    /// `2026-10-30 22:00 Europe/London`: an instant on the window's own clock.
    public func local(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.calendar = Calendar(identifier: .gregorian)
        formatter.timeZone = zone
        formatter.dateFormat = "yyyy-MM-dd HH:mm"
        return "\(formatter.string(from: date)) \(MaintenanceWindow.name(of: zone))"
    }
}

extension MaintenanceWindowState: Encodable {
    private enum Key: String, CodingKey {
        case id, target, schedule, cron, zone, `for`, during, reason, by, createdAt, holdRuns, atEnd, inForce, inForceUntil, nextStart, nextStartLocal
    }

    /// As the API and `runbook silences --json` give it (the encoder makes the keys snake_case).
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(window.id, forKey: .id)
        try container.encode(window.target, forKey: .target)
        try container.encode(window.schedule, forKey: .schedule)
        switch window.recurrence {
        case .cron(let cron, let zone, let length):
            try container.encode(cron.text, forKey: .cron)
            try container.encode(MaintenanceWindow.name(of: zone), forKey: .zone)
            try container.encode(DurationText.format(length), forKey: .for)
        case .during(let span):
            try container.encode(span.rawValue, forKey: .during)
        }
        try container.encode(window.reason, forKey: .reason)
        try container.encode(window.by, forKey: .by)
        try container.encode(window.createdAt, forKey: .createdAt)
        try container.encode(window.holdRuns, forKey: .holdRuns)
        try container.encode(window.atEnd.rawValue, forKey: .atEnd)
        try container.encode(inForceUntil != nil, forKey: .inForce)
        try container.encode(inForceUntil, forKey: .inForceUntil)
        try container.encode(nextStart, forKey: .nextStart)
        try container.encode(nextStart.map(local), forKey: .nextStartLocal)
    }
}

extension IncidentDesk {
    /// Stores a maintenance window; recorded on the open incidents it covers.
    @discardableResult
    public func addWindow(_ window: MaintenanceWindow) async throws -> MaintenanceWindow {
        try Self.refuseUnprintable(reason: window.reason, by: window.by)
        var window = window
        window.createdAt = now()
        let stored = try await store.addWindow(window)
        for incident in try await store.unresolvedIncidents() where covers(stored, incident) {
            try await modify(incident.id) { incident, change, at in
                change.events.append(IncidentEvent(
                    at: at, kind: .silenced, actor: stored.by, detail: "maintenance window \(stored.id) \(stored.schedule): \(stored.reason)", level: incident.level
                ))
            }
        }
        return stored
    }

    /// Removes window `id`, by `person` (on the timelines of the open incidents it covers); the
    /// messages it holds go (or are dropped) at the engine's next tick, as if it had ended. The
    /// window as it was, when this machine can read it.
    @discardableResult
    public func removeWindow(_ id: Int64, by person: String) async throws -> MaintenanceWindow? {
        try Self.refuseUnprintable(reason: "", by: person)
        let window = (try? await store.windows())?.first { $0.id == id }
        guard try await store.removeWindow(id) else {
            throw EscalationError("no maintenance window \(id): `runbook silences` lists them")
        }
        if let window {
            for incident in try await store.unresolvedIncidents() where covers(window, incident) {
                try await modify(incident.id) { incident, change, at in
                    change.events.append(IncidentEvent(
                        at: at, kind: .silenced, actor: person, detail: "maintenance window \(id) removed by \(person)", level: incident.level
                    ))
                }
            }
        }
        return window
    }

    /// A reason and a name are one line of visible text: no line breaks that fake lines in a
    /// message or the log, no terminal escapes, no invisible characters.
    static func refuseUnprintable(reason: String, by: String) throws {
        guard reason.count <= 500, by.count <= 200 else { throw EscalationError("the reason is limited to 500 characters and the name to 200") }
        guard !(reason + by).unicodeScalars.contains(where: { [.control, .format, .lineSeparator, .paragraphSeparator].contains($0.properties.generalCategory) }) else {
            throw EscalationError("the reason and the name are one line of visible text, without control or invisible characters")
        }
    }

    /// Every maintenance window, whether it is in force at `at` and when it next starts.
    public func windowStates(at instant: Date? = nil) async throws -> [MaintenanceWindowState] {
        let at = instant ?? now()
        return try await store.windows().map { window in
            MaintenanceWindowState(window: window, inForceUntil: window.interval(at: at, market: market)?.end, nextStart: window.nextStart(after: at, market: market))
        }
    }

    /// Why the runbooks of `check` wait at `at`: a window in force that covers it and holds runs.
    /// When the records cannot be read, nothing is held: an outage never keeps a recovery back.
    public func runsHeld(of check: String, at: Date) async -> String? {
        guard let windows = try? await store.windows() else { return nil }
        for window in windows where window.holdRuns && window.covers(check) {
            if let span = window.interval(at: at, market: market) {
                return "held by maintenance window \(window.id) until \(Self.stamp(span.end)): \(window.reason)"
            }
        }
        return nil
    }

    /// A run of `check` a window held back, on the timeline of the check's incidents.
    public func runHeld(by check: Check, runbook: String, reason: String) async {
        do {
            for incident in try await store.unresolvedIncidents() where isOf(incident, check: check.name) {
                try await modify(incident.id) { incident, change, at in
                    change.events.append(IncidentEvent(
                        at: at, kind: .run, actor: "check \(check.name)", detail: "\(runbook) not started: \(reason); it starts after the window if \(check.name) is still bad",
                        level: incident.level
                    ))
                }
            }
        } catch {
            logger.error("cannot record the run of \(check.name) held back on its incident: \(error)")
        }
    }

    /// Whether a level-1 incident waits rather than climbs because a window holds its check's
    /// runbook back (`hold_runs`): its recovery has not been tried. Once the window no longer
    /// holds it, its grace counts afresh from then, when the runbook can start. `windows` is read
    /// once a tick, when first needed.
    func recoveryHeld(_ incident: Incident, at: Date, windows: inout [MaintenanceWindow]?) async throws -> Bool {
        guard incident.level == 1, let check = incident.check else { return false }
        // Records that cannot be read hold nothing back: the incident climbs as it would.
        if windows == nil { windows = (try? await store.windows()) ?? [] }
        let holding = windows?.first { $0.holdRuns && $0.covers(check) && $0.interval(at: at, market: market) != nil }
        if let holding {
            let known = heldRecoveries.withLock { $0.updateValue(holding.id, forKey: incident.id) } != nil
            // On the timeline once, so that an engine started again after the window's end
            // (this memory gone) still knows the grace was held.
            if !known {
                try await modify(incident.id) { incident, change, at in
                    guard incident.status == .open, incident.level == 1 else { return }
                    change.events.append(IncidentEvent(
                        at: at, kind: .level, actor: Self.actor(of: holding), detail: "\(Self.recoveryWaits) maintenance window \(holding.id) holds its runbook back", level: 1
                    ))
                }
            }
            return true
        }
        var ended = heldRecoveries.withLock { $0.removeValue(forKey: incident.id) }
        if ended == nil, windows?.contains(where: { $0.holdRuns && $0.covers(check) }) == true {
            // Not in this engine's memory (it started since): the timeline says whether a window
            // held the runbook since the incident's level began.
            let waited = try await store.events(of: incident.id).last { $0.kind == .level && $0.at >= incident.levelAt && $0.detail.hasPrefix(Self.recoveryWaits) }
            ended = waited.flatMap { Int64($0.actor.dropFirst("maintenance window ".count)) }
        }
        guard let ended else { return false }
        try await modify(incident.id) { incident, change, at in
            guard incident.status == .open, incident.level == 1 else { return }
            incident.levelAt = at
            change.events.append(IncidentEvent(
                at: at, kind: .level, actor: "maintenance window \(ended)",
                detail: "level 1 (automatic recovery) from now, its grace counted afresh: maintenance window \(ended), which held its runbook back, is over",
                level: 1
            ))
        }
        return true
    }

    /// The window in force at `at` that covers the incident's check (`all` covers every check's),
    /// with its span; the one that ends last when several do. When the records cannot be read
    /// the message goes: a window never costs a message it cannot vouch for.
    func windowInForce(over incident: Incident, at: Date) async -> (MaintenanceWindow, DateInterval)? {
        guard let windows = try? await store.windows() else { return nil }
        return windows.filter { covers($0, incident) }
            .compactMap { window in window.interval(at: at, market: market).map { (window, $0) } }
            .max { $0.1.end < $1.1.end }
    }

    /// Whether `window` covers `incident`: one a check opened, of its check or of `all`.
    private func covers(_ window: MaintenanceWindow, _ incident: Incident) -> Bool {
        incident.check.map(window.covers) == true
    }

    /// What the timeline says of a level-1 incident whose runbook a window holds back.
    static let recoveryWaits = "level 1 waits:"

    /// The actor of a window's events: `maintenance window ID`.
    static func actor(of window: MaintenanceWindow) -> String {
        "maintenance window \(window.id)"
    }

    /// The messages of unresolved incidents held by a window that is no longer in force (it ended,
    /// or was removed): one message each with the incident's state now, saying it was held, or
    /// for a window `at_end: drop` a line on the timeline that it was dropped; nothing when the
    /// incident was paged since (a level 3 or 4, exposure). A window removed sends what it held.
    /// An incident resolved meanwhile sends nothing more: whoever heard of it before the window
    /// heard it resolve. The incident's climb counts afresh from here. Returns the incidents whose
    /// message a window in force still holds (and, when the windows cannot be read, every
    /// incident with a message held: nothing climbs or is released on a guess).
    func releaseHeld(among unresolved: [Incident], at: Date) async throws -> Set<Int64> {
        var stillHeld: Set<Int64> = []
        var windows: [MaintenanceWindow]?
        var unreadable = false
        let open = Set(unresolved.map(\.id))
        let unheld = self.unheld.withLock { known in
            known = known.filter { open.contains($0.key) }
            return known
        }
        heldRecoveries.withLock { held in held = held.filter { open.contains($0.key) } }
        for incident in unresolved where climbsHere(incident) && unheld[incident.id] != incident.version {
            let events = try await store.events(of: incident.id)
            guard let last = events.last(where: { $0.kind == .held || $0.kind == .released }), last.kind == .held else {
                self.unheld.withLock { $0[incident.id] = incident.version }
                continue
            }
            // Paged since (a level 3 or 4, exposure): what was held is behind that, and the
            // incident climbs as any other.
            let pagedSince = events.drop { $0 != last }.contains { $0.kind == .notified }
            if windows == nil, !unreadable {
                if let read = try? await store.windows() { windows = read } else { unreadable = true }
            }
            if unreadable {
                if !pagedSince { stillHeld.insert(incident.id) }
                continue
            }
            let window = windows?.first { Self.actor(of: $0) == last.actor }
            // In force in the same occurrence that held it (not the next one after a stop across its end).
            if let window, let span = window.interval(at: at, market: market), span.start <= last.at {
                if !pagedSince { stillHeld.insert(incident.id) }
                continue
            }
            let held = last.actor
            try await modify(incident.id) { incident, change, at in
                guard incident.status != .resolved else { return }
                // Its climb counts afresh from the window's end: a dropped message is followed by
                // the next level's only if nobody takes the incident in time.
                incident.levelAt = at
                let ended = window == nil ? "\(held) was removed" : "\(held) ended"
                if pagedSince {
                    change.events.append(IncidentEvent(
                        at: at, kind: .released, actor: held, detail: "\(ended): the incident was paged since, so the message it held is not sent", level: incident.level
                    ))
                    return
                }
                guard let window else {
                    change.events.append(IncidentEvent(at: at, kind: .released, actor: held, detail: "\(ended): the message it held sends now", level: incident.level))
                    await self.notify(&incident, &change, at: at, why: "held by \(held), which was removed", bypassCooldown: true)
                    return
                }
                let why = "held during \(held) (\(window.reason))"
                switch window.atEnd {
                case .drop:
                    change.events.append(IncidentEvent(
                        at: at, kind: .released, actor: held, detail: "\(ended): the message it held is dropped (at_end: drop)", level: incident.level
                    ))
                case .send where incident.status == .acknowledged:
                    change.events.append(IncidentEvent(
                        at: at, kind: .released, actor: held,
                        detail: "\(ended): \(incident.acknowledgedBy ?? "someone") acknowledged the incident meanwhile, so the message it held is not sent",
                        level: incident.level
                    ))
                case .send:
                    change.events.append(IncidentEvent(at: at, kind: .released, actor: held, detail: "\(ended): the message it held sends now", level: incident.level))
                    let state = "\(incident.severity.rawValue) at level \(incident.level) (\(Incident.levelName(incident.level)))"
                    await self.notify(&incident, &change, at: at, why: why, headline: "\(why), which has ended; still \(state)", bypassCooldown: true)
                }
            }
        }
        return stillHeld
    }
}
