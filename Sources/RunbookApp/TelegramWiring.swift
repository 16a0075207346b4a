import Foundation
import Logging
import RunbookCore
import RunbookCurl
import RunbookEscalation
import RunbookExecutor
import RunbookModel

/// What a press on a button under an incident's message does, for the people on the channel's
/// `allowed_users`: acknowledge, silence its check for an hour, resolve one no check resolves,
/// run its check's runbook, close the gate, and confirm level 4 (which runs once
/// `confirmations` different people have). Anyone else is told so politely, and the attempt is
/// on the incident's timeline. Every act is, with who and that it came from Telegram.
struct TelegramActions: Sendable {
    let channel: String
    let settings: ChannelSettings.Telegram
    let desk: IncidentDesk
    let launcher: RunLauncher
    let gate: GateKeeper
    /// Answers to runs waiting at an `approve` step.
    let approvals: ApprovalDesk
    let checks: @Sendable () -> [Check]
    let logger: Logger
    var now: @Sendable () -> Date = { Date() }
    static let emergencyRecovery = "emergency-recovery"
    /// How long a confirmation of level 4 counts.
    static let confirmationsLast: TimeInterval = 1800

    func handle(_ press: TelegramPress) async -> TelegramReply {
        guard let act = press.act, let id = press.incidentID else {
            return TelegramReply(answer: "This button is not one runbook knows.")
        }
        // Who, by the id Telegram vouches for: a name can be changed or copied.
        let person = "\(press.name) (Telegram user \(press.userID))"
        if act.isApproval { return await answer(act, question: id, press: press) }
        do {
            guard settings.allowedUsers.contains(press.userID) else {
                let refusal = "pressed \(Self.label(act)) from Telegram; not on \(channel)'s allowed_users, nothing done"
                // On the timeline once per person and incident: presses are no way to flood it.
                if let incident = try await desk.store.incident(id),
                   try await !desk.store.events(of: incident.id).contains(where: { $0.kind == .refused && $0.actor == person }) {
                    try await desk.note(id, kind: .refused, actor: person, detail: refusal)
                }
                logger.warning("Telegram user \(press.userID) (\(press.name)) pressed \(Self.label(act)) on incident \(id) and is not on \(channel)'s allowed_users")
                return TelegramReply(answer: "Sorry, \(press.name): you are not on this channel's list of people who may act on incidents, so nothing was done. Ask the on-call lead to add your Telegram user id (\(press.userID)).")
            }
            guard let incident = try await desk.store.incident(id) else { return TelegramReply(answer: "There is no incident \(id).") }
            return try await perform(act, on: incident, by: person, name: press.name)
        } catch {
            logger.error("a press of \(press.name) on incident \(id) failed: \(error)")
            return TelegramReply(answer: "That did not work: \(error). Try the command line: runbook incident \(id).")
        }
    }

    private func perform(_ act: TelegramAct, on incident: Incident, by person: String, name: String) async throws -> TelegramReply {
        let id = incident.id
        let at = Self.time(now())
        if incident.status == .resolved, act != .closeGate {
            return TelegramReply(answer: "Incident \(id) is already resolved.")
        }
        switch act {
        case .acknowledge:
            guard incident.status == .open else { return TelegramReply(answer: "Incident \(id) is already acknowledged by \(incident.acknowledgedBy ?? "someone").") }
            try await desk.acknowledge(id, by: person)
            return TelegramReply(answer: "Acknowledged: no more messages of incident \(id) until it resolves.", note: "✔ acknowledged by \(name) at \(at)")
        case .silence:
            guard let check = incident.check else { return TelegramReply(answer: "Incident \(id) has no check to silence: acknowledge it instead.") }
            try await desk.silence(check: check, until: now().addingTimeInterval(3600), reason: "silenced for an hour from Telegram", by: person)
            return TelegramReply(answer: "\(check) is silenced for an hour.", note: "🔕 \(check) silenced for 1h by \(name) at \(at)")
        case .resolve:
            if let check = incident.check {
                return TelegramReply(answer: "\(check) resolves incident \(id) when it is healthy again: acknowledge it instead.")
            }
            try await desk.resolve(id, by: person)
            return TelegramReply(answer: "Incident \(id) is resolved.", note: "☑ resolved by \(name) at \(at)")
        case .run:
            guard let name = incident.check, let check = checks().first(where: { $0.name == name }), let action = check.onCritical ?? check.onWarning else {
                return TelegramReply(answer: "Incident \(id) has no runbook to run: its check names none.")
            }
            // The check's own key: never a second run beside the one the guardian started.
            let key = "check:\(name)"
            if !launcher.running(key).isEmpty { return TelegramReply(answer: "\(action.runbook) is running already for \(name).") }
            let run: RunLauncher.Launched
            do {
                run = try launcher.start(action.runbook, arguments: action.params, trigger: .api, origin: RunOrigin(source: "telegram"), key: key)
            } catch {
                return TelegramReply(answer: "\(action.runbook) did not start: \(error)")
            }
            guard let runID = await run.runID else { return TelegramReply(answer: "\(action.runbook) did not start: see the engine's log.") }
            try await desk.link(run: runID, to: id, detail: "run \(runID) (\(action.runbook)) started by \(person)")
            return TelegramReply(answer: "\(action.runbook) is running (run \(runID)).", note: "▶ \(action.runbook) (run \(runID)) started by \(name) at \(at)")
        case .closeGate:
            _ = try await gate.change(closed: true, reason: "closed from Telegram for incident \(id)", by: person, via: "telegram")
            return TelegramReply(answer: "The gate is closed: every fire fails until a person opens it (runbook gate open).", note: "⛔ gate closed by \(name) at \(at)")
        case .confirmReset:
            return try await confirmReset(incident, by: person, name: name, at: at)
        case .approve, .reject:
            return TelegramReply(answer: "This button answers a run, not an incident.")
        }
    }

    /// Approve or Reject under a run's question (the press names the question): taken from
    /// people on `allowed_users` who are also among the step's approvers (when it names them, as
    /// `telegram:ID`).
    private func answer(_ act: TelegramAct, question: Int64, press: TelegramPress) async -> TelegramReply {
        guard settings.allowedUsers.contains(press.userID) else {
            logger.warning("Telegram user \(press.userID) (\(press.name)) pressed \(Self.label(act)) on question \(question) and is not on \(channel)'s allowed_users")
            return TelegramReply(answer: "Sorry, \(press.name): you are not on this channel's list of people who may act, so nothing was done. Ask the on-call lead to add your Telegram user id (\(press.userID)).")
        }
        do {
            guard let request = try await approvals.store.approval(id: question) else {
                return TelegramReply(answer: "There is no such question in the records.")
            }
            let answered = try await approvals.answer(
                runID: request.runID, question: question, decision: act == .approve ? .approve : .reject,
                by: .telegram(userID: press.userID, name: press.name), reason: act == .reject ? "rejected from Telegram" : "", at: now()
            )
            logger.notice("\(answered.text)")
            guard answered.recorded else { return TelegramReply(answer: "You answered already: \(answered.request.tally).") }
            let at = Self.time(now())
            let who = "\(press.name) (Telegram user \(press.userID))"
            let note = act == .approve ? "✔ approved by \(who) at \(at) (\(answered.request.tally))" : "✖ rejected by \(who) at \(at)"
            return TelegramReply(answer: answered.text, note: note)
        } catch let refused as ApprovalRefused {
            return TelegramReply(answer: refused.description)
        } catch {
            logger.error("an answer of \(press.name) to question \(question) failed: \(error)")
            return TelegramReply(answer: "That did not work: \(error). Try the command line: runbook approve RUN --by NAME.")
        }
    }

    /// Level 4 runs once `confirmations` different people confirmed since the incident's last
    /// reset; one person pressing twice counts once.
    private func confirmReset(_ incident: Incident, by person: String, name: String, at: String) async throws -> TelegramReply {
        let id = incident.id
        guard incident.level >= 3 else { return TelegramReply(answer: "Level 4 is for an incident at level 3; incident \(id) is at level \(incident.level).") }
        guard incident.level < 4 else { return TelegramReply(answer: "Incident \(id) is at level 4 already: emergency-recovery ran.") }
        // Confirmations count at this level and for half an hour, one per Telegram user.
        let since = max(incident.levelAt, now().addingTimeInterval(-Self.confirmationsLast))
        let events = try await desk.store.events(of: id)
        var confirmed = Set(events.filter { $0.kind == .confirmed && $0.at >= since }.map(\.actor))
        if confirmed.contains(person) {
            return TelegramReply(answer: "You confirmed already; \(settings.confirmations - confirmed.count) more person(s) must confirm.")
        }
        confirmed.insert(person)
        try await desk.note(id, kind: .confirmed, actor: person, detail: "confirmed level 4 (emergency-recovery) from Telegram: \(confirmed.count) of \(settings.confirmations)")
        guard confirmed.count >= settings.confirmations else {
            return TelegramReply(
                answer: "Confirmed (\(confirmed.count) of \(settings.confirmations)): another person must confirm before emergency-recovery runs.",
                note: "⚠ level 4 confirmed by \(name) at \(at) (\(confirmed.count) of \(settings.confirmations))"
            )
        }
        let people = confirmed.sorted().joined(separator: " and ")
        // The run first: a level 4 with nothing running would say it ran.
        let run: RunLauncher.Launched
        do {
            run = try launcher.start(Self.emergencyRecovery, arguments: [:], trigger: .manual, origin: RunOrigin(source: "telegram"), key: Self.emergencyRecovery)
        } catch {
            return TelegramReply(answer: "Confirmed by \(confirmed.count), but \(Self.emergencyRecovery) did not start: \(error). Run `runbook reset \(id) --confirm`.")
        }
        try await desk.reset(id, by: people)
        guard let runID = await run.runID else {
            return TelegramReply(answer: "\(Self.emergencyRecovery) could not be recorded, so it did not start: see the engine's log and run `runbook reset \(id) --confirm`.")
        }
        try await desk.link(run: runID, to: id, detail: "run \(runID) (\(Self.emergencyRecovery)) started: level 4 confirmed by \(people)")
        return TelegramReply(answer: "Level 4: emergency-recovery is running (run \(runID)).", note: "🚨 level 4 confirmed by \(people); emergency-recovery started at \(at)")
    }

    static func label(_ act: TelegramAct) -> String {
        switch act {
        case .acknowledge: "Acknowledge"
        case .silence: "Silence 1h"
        case .resolve: "Resolve"
        case .run: "Run its runbook"
        case .closeGate: "Close the gate"
        case .confirmReset: "Confirm level 4"
        case .approve: "Approve"
        case .reject: "Reject"
        }
    }

    static func time(_ date: Date) -> String {
        date.formatted(.iso8601.time(includingFractionalSeconds: false).timeSeparator(.colon)) + "Z"
    }
}
