import ArgumentParser
import Foundation
import RunbookApp
import RunbookEscalation
import RunbookModel
import RunbookSQLite

/// The JSON shape of incidents, their timelines and the outbox.
enum IncidentJSON {
    static func object(_ incident: Incident) -> [String: Any] {
        [
            "id": incident.id, "key": incident.key, "check": incident.check as Any? ?? NSNull(), "subject": incident.subject as Any? ?? NSNull(),
            "title": incident.title, "severity": incident.severity.rawValue, "level": incident.level, "status": incident.status.rawValue,
            "opened_at": Timestamp.text(incident.openedAt), "level_at": Timestamp.text(incident.levelAt),
            "acknowledged_at": incident.acknowledgedAt.map(Timestamp.text) as Any? ?? NSNull(), "acknowledged_by": incident.acknowledgedBy as Any? ?? NSNull(),
            "resolved_at": incident.resolvedAt.map(Timestamp.text) as Any? ?? NSNull(), "messages": incident.lastSequence,
        ]
    }

    static func object(_ event: IncidentEvent) -> [String: Any] {
        [
            "at": Timestamp.text(event.at), "kind": event.kind.rawValue, "actor": event.actor, "detail": event.detail, "level": event.level,
            "run_id": event.runID as Any? ?? NSNull(),
        ]
    }

    static func object(_ entry: OutboxEntry) -> [String: Any] {
        [
            "id": entry.id, "incident_id": entry.incidentID, "sequence": entry.sequence, "channel": entry.channel, "state": entry.state.rawValue,
            "attempts": entry.attempts, "subject": entry.subject, "created_at": Timestamp.text(entry.createdAt),
            "next_attempt_at": Timestamp.text(entry.nextAttemptAt), "last_error": entry.lastError as Any? ?? NSNull(),
            "delivered_at": entry.deliveredAt.map(Timestamp.text) as Any? ?? NSNull(), "fallback_of": entry.fallbackOf as Any? ?? NSNull(),
        ]
    }
}

extension Assembly {
    /// The incident desk over the records, for commands run by a person.
    func desk() async throws -> (IncidentDesk, Records) {
        let records = try await records()
        let folder = config.checksDirectory
        return (incidentDesk(records: records, checks: { (try? CheckLoader(probes: Catalog.probes).loadAll(paths: [folder])) ?? [] }), records)
    }

    /// Who a person is, for the timeline: `--by`, or the login name.
    static func person(_ by: String?) -> String {
        by ?? ProcessInfo.processInfo.environment["USER"] ?? ProcessInfo.processInfo.environment["LOGNAME"] ?? "someone"
    }
}

/// `runbook incidents`: open incidents (or all) with their level and state.
struct IncidentsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "incidents", abstract: "List incidents: open and acknowledged ones, or all with --all.",
        discussion: "Exit codes: 0 none open, 1 some open (acknowledged or not)."
    )

    @OptionGroup var global: GlobalOptions

    @Flag(help: "Resolved incidents too (the latest --limit).")
    var all = false

    @Option(help: "At most this many incidents with --all.")
    var limit = 50

    @Flag(help: "Print the incidents as JSON.")
    var json = false

    func run() async throws {
        let assembly = Assembly(config: try global.engineConfig())
        let records = try await assembly.existingRecords()
        var incidents: [Incident] = []
        var open: [Incident] = []
        if let store = records?.incidents {
            open = try await store.unresolvedIncidents()
            incidents = all ? try await store.incidents(limit: limit) : open.reversed()
        }
        if json {
            Console.json(["incidents": incidents.map(IncidentJSON.object)])
        } else if incidents.isEmpty {
            Console.out(all ? "no incidents recorded" : "no open incidents")
        } else {
            Table.print(header: ["ID", "LEVEL", "SEVERITY", "STATUS", "OPENED (UTC)", "TITLE"], rows: incidents.map { incident in
                [
                    String(incident.id), "L\(incident.level)", incident.severity.rawValue,
                    incident.status == .acknowledged ? "acknowledged by \(incident.acknowledgedBy ?? "?")" : incident.status.rawValue,
                    Timestamp.text(incident.openedAt), String(incident.title.prefix(90)),
                ]
            })
        }
        // Any open incident, listed or older than the latest --limit.
        if !open.isEmpty { throw ExitCode(1) }
    }
}

/// `runbook incident ID`: one incident's timeline.
struct IncidentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "incident", abstract: "Show one incident with its timeline, runs and messages.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The incident's id (see `runbook incidents`).")
    var id: Int64

    @Flag(help: "Print it as JSON.")
    var json = false

    func run() async throws {
        let assembly = Assembly(config: try global.engineConfig())
        guard let records = try await assembly.existingRecords(), let incident = try await records.incidents.incident(id) else {
            Console.error("error: no incident \(id) in \(assembly.recordsDescription): `runbook incidents --all` lists them")
            throw ExitStatus.usage.code
        }
        let events = try await records.incidents.events(of: id)
        let messages = try await records.incidents.outbox(incident: id)
        if json {
            var object = IncidentJSON.object(incident)
            object["timeline"] = events.map(IncidentJSON.object)
            object["outbox"] = messages.map(IncidentJSON.object)
            Console.json(object)
            return
        }
        Console.out("incident \(incident.id): \(incident.title)")
        Console.out("level \(incident.level) (\(Incident.levelName(incident.level))), \(incident.severity.rawValue), \(incident.status.rawValue); key \(incident.key)")
        Console.out("")
        Table.print(header: ["AT (UTC)", "EVENT", "BY", "LEVEL", "DETAIL"], rows: events.map { event in
            [Timestamp.text(event.at), event.kind.rawValue, event.actor, "L\(event.level)", event.detail]
        })
        if !messages.isEmpty {
            Console.out("")
            Table.print(header: ["MESSAGE", "SEQ", "CHANNEL", "STATE", "ATTEMPTS", "LAST ERROR"], rows: messages.map { entry in
                [String(entry.id), String(entry.sequence), entry.channel, entry.state.rawValue, String(entry.attempts), entry.lastError ?? "-"]
            })
        }
    }
}

/// `runbook ack ID`: a person takes the incident.
struct AckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ack", abstract: "Acknowledge an incident: no more notifications of it until it resolves, and no climb to level 3."
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The incident's id (see `runbook incidents`).")
    var id: Int64

    @Option(help: "Who acknowledges it (default: the login name).")
    var by: String?

    func run() async throws {
        let assembly = Assembly(config: try global.engineConfig())
        let (desk, records) = try await assembly.desk()
        guard let before = try await records.incidents.incident(id) else {
            Console.error("error: no incident \(id): `runbook incidents` lists the open ones")
            throw ExitStatus.usage.code
        }
        if before.status == .resolved {
            Console.out("incident \(id) is already resolved (\(before.resolvedAt.map(Timestamp.text) ?? "")); nothing to acknowledge")
            return
        }
        let incident = try await desk.acknowledge(id, by: Assembly.person(by) + " (CLI)")
        Console.out("incident \(id) acknowledged by \(incident.acknowledgedBy ?? "?"): quiet until it resolves")
    }
}

/// `runbook resolve ID`: a person closes an incident.
struct ResolveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resolve", abstract: "Resolve an incident by hand (one a runbook escalated, which no check resolves); a resolve message goes to whoever heard of it."
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The incident's id (see `runbook incidents`).")
    var id: Int64

    @Option(help: "Who resolves it (default: the login name).")
    var by: String?

    func run() async throws {
        let assembly = Assembly(config: try global.engineConfig())
        let (desk, _) = try await assembly.desk()
        guard let incident = try await desk.resolve(id, by: Assembly.person(by) + " (CLI)") else {
            Console.error("error: no open incident \(id): `runbook incidents` lists the open ones")
            throw ExitStatus.usage.code
        }
        Console.out("incident \(incident.id) resolved by \(Assembly.person(by))")
    }
}

/// `runbook silence CHECK|all --for 2h --reason ...`: a one-off silence; with `--every CRON --for
/// DURATION` or `--during weekend|closed`, a maintenance window that recurs; `--remove ID` ends one.
struct SilenceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "silence", abstract: "Hold back a check's notifications for a while, or in a maintenance window that recurs.",
        discussion: """
            runbook silence CHECK|all --for 2h --reason R: once, from now (its runbooks still run).
            runbook silence CHECK|all --every "0 22 * * 5" --for 2h [--tz Europe/London] --reason R: each time the cron fires, in the zone (UTC by default).
            runbook silence CHECK|all --during weekend|closed --reason R: over the market's weekend, or whenever it is closed.
            A window holds the messages of the incidents it covers and sends one per incident still unresolved when it ends (--at-end drop: none); the incidents it holds do not climb meanwhile, and level 3 and 4 and exposure go through. \
            With --hold-runs the check's runbooks wait for its end too. runbook silence --remove ID removes a window; runbook silences lists them.
            """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The check's name (see `runbook check`), or all.")
    var check: String?

    @Option(name: .customLong("for"), help: "How long, such as 30m or 2h: from now, or from each start with --every.")
    var duration: String?

    @Option(help: "A cron expression (minute hour day-of-month month day-of-week): the window starts whenever it fires.")
    var every: String?

    @Option(help: "The IANA time zone --every is read in, such as Europe/London (default: UTC).")
    var tz: String?

    @Option(help: "A window over the market's weekend (weekend) or whenever it is closed (closed).")
    var during: String?

    @Option(help: "Why, for the timeline.")
    var reason: String?

    @Flag(name: .customLong("hold-runs"), help: "The check's runbooks wait for the window's end as well.")
    var holdRuns = false

    @Option(name: .customLong("at-end"), help: "What becomes of the messages a window held when it ends: send (default) or drop.")
    var atEnd: String?

    @Option(help: "Who silences it (default: the login name).")
    var by: String?

    @Option(help: "Remove maintenance window ID (see `runbook silences`).")
    var remove: Int64?

    private var recurs: Bool { every != nil || during != nil }

    func validate() throws {
        if remove != nil {
            guard check == nil, duration == nil, every == nil, during == nil, tz == nil, reason == nil, !holdRuns, atEnd == nil else {
                throw ValidationError("--remove ID takes nothing else: runbook silence --remove 3")
            }
            return
        }
        guard check != nil else { throw ValidationError("name a check (or all): runbook silence CHECK --for 2h --reason WHY") }
        guard reason != nil else { throw ValidationError("--reason is required: say why, for the timeline") }
        if let atEnd, MaintenanceWindow.AtEnd(rawValue: atEnd) == nil {
            throw ValidationError("--at-end '\(atEnd)' is neither send nor drop")
        }
        if recurs {
            do {
                _ = try MaintenanceWindow.recurrence(every: every, length: duration, zone: tz, during: during)
            } catch {
                throw ValidationError(error.description)
            }
            return
        }
        guard tz == nil, !holdRuns, atEnd == nil else {
            throw ValidationError("--tz, --hold-runs and --at-end belong to a maintenance window: add --every CRON or --during weekend|closed")
        }
        guard let duration else { throw ValidationError("--for is required: how long, such as 30m or 2h (or a window with --every or --during)") }
        guard let length = DurationText.parse(duration), length > .zero else {
            throw ValidationError("--for '\(duration)' is not a duration; write it like 30m or 2h")
        }
    }

    func run() async throws {
        let assembly = Assembly(config: try global.engineConfig())
        if let remove {
            let (desk, _) = try await assembly.desk()
            do {
                let window = try await desk.removeWindow(remove, by: Assembly.person(by) + " (CLI)")
                Console.out("maintenance window \(remove) removed" + (window.map { " (\($0.target) \($0.schedule): \($0.reason))" } ?? ""))
            } catch let error as EscalationError {
                Console.error("error: \(error)")
                throw ExitStatus.usage.code
            }
            return
        }
        guard let check, let reason else { return }
        if check != MaintenanceWindow.everyCheck {
            let checks = try assembly.checks()
            guard checks.contains(where: { $0.name == check }) else {
                Console.error("error: no check named '\(check)'\(Suggestion.hint(for: check, in: checks.map(\.name))); `runbook check` lists them, or use all")
                throw ExitStatus.usage.code
            }
        }
        let (desk, _) = try await assembly.desk()
        let person = Assembly.person(by) + " (CLI)"
        guard recurs else {
            let until = Date().addingTimeInterval(DurationText.parse(duration ?? "")!.seconds)
            let silence = try await desk.silence(check: check, until: until, reason: reason, by: person)
            Console.out("\(check) silenced until \(Timestamp.text(silence.until)) by \(silence.by): \(reason)")
            return
        }
        let window = try await desk.addWindow(MaintenanceWindow(
            target: check, recurrence: try MaintenanceWindow.recurrence(every: every, length: duration, zone: tz, during: during), reason: reason, by: person,
            createdAt: Date(), holdRuns: holdRuns, atEnd: atEnd.flatMap(MaintenanceWindow.AtEnd.init(rawValue:)) ?? .send
        ))
        Console.out("maintenance window \(window.id): \(check) \(window.schedule) by \(window.by): \(reason)")
        if let state = try await desk.windowStates().first(where: { $0.window.id == window.id }) {
            for line in SilencesCommand.when(state) { Console.out("  \(line)") }
        }
    }
}

/// `runbook outbox`: messages still to send, and what became of the others.
struct OutboxCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "outbox", abstract: "Show the messages waiting to be sent, and those that may not have arrived.",
        discussion: "Exit codes: 0 nothing waiting, 1 messages pending or uncertain."
    )

    @OptionGroup var global: GlobalOptions

    @Flag(help: "Delivered and diverted messages too (the latest --limit).")
    var all = false

    @Option(help: "At most this many messages.")
    var limit = 100

    @Option(help: "Send an uncertain or refused message again, by its id.")
    var resend: Int64?

    @Flag(help: "Print the messages as JSON.")
    var json = false

    func run() async throws {
        let assembly = Assembly(config: try global.engineConfig())
        if let resend {
            guard let entry = try await assembly.records().incidents.resend(resend, at: Date()) else {
                Console.error("error: no message \(resend) in the outbox: `runbook outbox --all` lists them")
                throw ExitStatus.usage.code
            }
            Console.out(entry.state == .pending ? "message \(resend) queued again for \(entry.channel)" : "message \(resend) is \(entry.state.rawValue): nothing to resend")
            return
        }
        let waiting: Set<OutboxEntry.State> = [.pending, .sending, .uncertain, .rejected]
        let states = all ? Set(OutboxEntry.State.allCases) : waiting
        let entries = try await assembly.existingRecords()?.incidents.outbox(states: states, limit: limit) ?? []
        if json {
            Console.json(["outbox": entries.map(IncidentJSON.object)])
        } else if entries.isEmpty {
            Console.out(all ? "the outbox is empty" : "nothing waiting to be sent")
        } else {
            Table.print(header: ["ID", "INCIDENT", "SEQ", "CHANNEL", "STATE", "ATTEMPTS", "NEXT TRY (UTC)", "SUBJECT / LAST ERROR"], rows: entries.map { entry in
                [
                    String(entry.id), entry.incidentID == 0 ? "-" : String(entry.incidentID), String(entry.sequence), entry.channel, entry.state.rawValue,
                    String(entry.attempts), entry.state == .pending ? Timestamp.text(entry.nextAttemptAt) : "-",
                    String((entry.lastError.map { "\(entry.subject) / \($0)" } ?? entry.subject).prefix(100)),
                ]
            })
        }
        if entries.contains(where: { waiting.contains($0.state) }) { throw ExitCode(1) }
    }
}

/// `runbook reset ID --confirm`: level 4, by a person.
struct ResetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reset",
        abstract: "Level 4: record a system reset on an incident and run emergency-recovery (restart every service, clear the command queue, verify, report).",
        discussion: "Never automatic: it needs --confirm. Exit codes: 0 recovered, 1 the recovery failed, 2 usage."
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The incident's id (see `runbook incidents`).")
    var id: Int64

    @Flag(help: "Confirm the reset.")
    var confirm = false

    @Option(help: "Who confirms it (default: the login name).")
    var by: String?

    @Option(help: "The runbook to run.")
    var runbook = "emergency-recovery"

    func run() async throws {
        let assembly = Assembly(config: try global.engineConfig())
        let (desk, records) = try await assembly.desk()
        guard let incident = try await records.incidents.incident(id), incident.status != .resolved else {
            Console.error("error: no open incident \(id): `runbook incidents` lists the open ones")
            throw ExitStatus.usage.code
        }
        let library = assembly.library()
        let recovery: Runbook
        do {
            recovery = try library.resolve(runbook)
        } catch {
            Console.lookupFailed(error)
            throw ExitStatus.usage.code
        }
        guard confirm else {
            Console.error("error: a reset restarts every service and clears the command queue; `runbook run \(runbook) --dry-run` shows its plan. Run again with --confirm")
            throw ExitStatus.usage.code
        }
        let person = Assembly.person(by) + " (CLI)"
        try await desk.reset(id, by: person)
        Console.out("incident \(id) at level 4, confirmed by \(person): running \(runbook)")
        let report = await RunCommand.execute(recovery, params: [:], assembly: assembly, library: library, records: records, progress: true)
        try await desk.link(run: report.runID, to: id, detail: "run \(report.runID) (\(runbook)) \(report.status.rawValue)" + (report.error.map { ": \($0)" } ?? ""))
        if report.status != .succeeded { throw ExitStatus.failed.code }
    }
}
