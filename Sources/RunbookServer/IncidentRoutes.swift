import Foundation
import Hummingbird
import RunbookEscalation
import RunbookModel

/// One incident with its timeline, as `GET /api/incidents/ID` answers.
struct IncidentDetail: Encodable {
    var incident: Incident
    var timeline: [IncidentEvent]
}

extension RunbookHTTPServer {
    /// Incidents not resolved yet, newest first; empty when the records cannot be read (the
    /// dashboard's panel empties rather than the whole answer failing).
    func openIncidents() async -> [Incident] {
        guard let desk = backend.incidents else { return [] }
        return ((try? await desk.store.unresolvedIncidents()) ?? []).reversed()
    }

    func addIncidentRoutes(to routes: RouteRegistrar) {
        routes.on(.get, "/api/incidents") { request, _ in
            try await withDesk { desk in
                struct Incidents: Encodable { var incidents: [Incident] }
                let query = request.uri.queryParameters
                let wanted = query.get("status").flatMap { $0.isEmpty ? nil : $0 } ?? "unresolved"
                let statuses = ["unresolved", "all"] + IncidentStatus.allCases.map(\.rawValue)
                guard statuses.contains(wanted) else {
                    return JSON.error(.badRequest, "status '\(wanted)' is not one of \(statuses.joined(separator: ", "))")
                }
                var limit = 50
                if let text = query.get("limit") {
                    guard let number = Int(text), (1...1000).contains(number) else {
                        return JSON.error(.badRequest, "limit '\(text)' is not a whole number from 1 to 1000")
                    }
                    limit = number
                }
                let listed: [Incident] = switch wanted {
                case "unresolved": Array(try await desk.store.unresolvedIncidents().reversed().prefix(limit))
                case "all": try await desk.store.incidents(limit: limit)
                default: try await desk.store.incidents(status: IncidentStatus(rawValue: wanted)!, limit: limit)
                }
                return JSON.response(Incidents(incidents: listed))
            }
        }
        routes.on(.get, "/api/incidents/:id") { _, context in
            try await withDesk { desk in
                let id = try Self.incidentID(context)
                guard let incident = try await desk.store.incident(id) else { return JSON.error(.notFound, "no incident \(id) in the records") }
                return JSON.response(IncidentDetail(incident: incident, timeline: try await desk.store.events(of: id)))
            }
        }
        routes.on(.post, "/api/incidents/:id/acknowledge") { request, context in
            try await withDesk { desk in
                let id = try Self.incidentID(context)
                let body = try await Self.fields(request, allowed: ["by", "via"], example: #"{"by": "YOUR NAME"} (or no body)"#)
                let actor = try Self.actor(body)
                guard let before = try await desk.store.incident(id) else { return JSON.error(.notFound, "no incident \(id) in the records") }
                if before.status == .resolved {
                    return JSON.error(.conflict, "incident \(id) is already resolved; nothing to acknowledge")
                }
                let acknowledged = try await desk.acknowledge(id, by: actor)
                // Resolved between the read above and the acknowledgement.
                if acknowledged.status == .resolved {
                    return JSON.error(.conflict, "incident \(id) is already resolved; nothing to acknowledge")
                }
                return JSON.response(acknowledged)
            }
        }
        routes.on(.get, "/api/silences") { _, _ in
            try await withDesk { desk in
                // One-off silences in force, and every maintenance window with its next start.
                struct Silences: Encodable {
                    var silences: [Silence]
                    var windows: [MaintenanceWindowState]
                }
                return JSON.response(Silences(silences: try await desk.store.silences(activeAt: Date()), windows: try await desk.windowStates()))
            }
        }
        routes.on(.post, "/api/silences") { request, _ in
            try await withDesk { desk in
                let example = #"{"check": "NAME", "for": "2h", "reason": "WHY", "by": "YOUR NAME"}"#
                let window = #"{"check": "NAME", "every": "0 22 * * 5", "for": "2h", "tz": "Europe/London", "reason": "WHY", "hold_runs": true}"#
                let body = try await Self.fields(
                    request, allowed: ["check", "for", "reason", "by", "via", "every", "tz", "during", "hold_runs", "at_end"], example: example
                )
                let actor = try Self.actor(body)
                let recurs = body["every"] != nil || body["during"] != nil
                guard let check = body["check"], let reason = body["reason"], recurs || body["for"] != nil else {
                    return JSON.error(.badRequest, "check, for and reason are required: send \(example), or for a maintenance window \(window)")
                }
                let names = backend.checks().checks.map(\.name)
                guard check == MaintenanceWindow.everyCheck || names.contains(check) else {
                    return JSON.error(.notFound, "no check named '\(check)'\(Suggestion.hint(for: check, in: names)); GET /api/checks lists them, or use all")
                }
                if recurs {
                    let recurrence: MaintenanceWindow.Recurrence
                    do {
                        recurrence = try MaintenanceWindow.recurrence(every: body["every"], length: body["for"], zone: body["tz"], during: body["during"])
                    } catch {
                        // The same checks as `runbook silence`, which names its options with dashes.
                        return JSON.error(.badRequest, "\(error)".replacingOccurrences(of: "--", with: ""))
                    }
                    guard let holdRuns = Bool(body["hold_runs"] ?? "false") else {
                        return JSON.error(.badRequest, "hold_runs is true or false, not '\(body["hold_runs"] ?? "")'")
                    }
                    guard let atEnd = MaintenanceWindow.AtEnd(rawValue: body["at_end"] ?? "send") else {
                        return JSON.error(.badRequest, "at_end is send or drop, not '\(body["at_end"] ?? "")'")
                    }
                    let stored = try await desk.addWindow(MaintenanceWindow(
                        target: check, recurrence: recurrence, reason: reason, by: actor, createdAt: Date(), holdRuns: holdRuns, atEnd: atEnd
                    ))
                    let state = try await desk.windowStates().first { $0.window.id == stored.id }
                    return JSON.response(state ?? MaintenanceWindowState(window: stored, inForceUntil: nil, nextStart: nil), status: .created)
                }
                guard body["tz"] == nil, body["hold_runs"] == nil, body["at_end"] == nil else {
                    return JSON.error(.badRequest, "tz, hold_runs and at_end belong to a maintenance window: add every or during, as in \(window)")
                }
                guard let length = body["for"], let duration = DurationText.parse(length), duration > .zero else {
                    return JSON.error(.badRequest, "for '\(body["for"] ?? "")' is not a duration; write it like 30m or 2h")
                }
                let until = Date().addingTimeInterval(duration.seconds)
                return JSON.response(try await desk.silence(check: check, until: until, reason: reason, by: actor), status: .created)
            }
        }
        routes.on(.delete, "/api/silences/windows/:id") { request, context in
            try await withDesk { desk in
                guard let text = context.parameters.get("id"), let id = Int64(text) else {
                    return JSON.error(.badRequest, "a maintenance window's id is a number, as GET /api/silences shows")
                }
                // Who removes it, for the timelines: `?by=NAME` (and `&via=dashboard`).
                let query = request.uri.queryParameters
                let actor = try Self.actor(["by": query.get("by"), "via": query.get("via")].compactMapValues { $0.flatMap { $0.isEmpty ? nil : $0 } })
                do {
                    guard let window = try await desk.removeWindow(id, by: actor) else {
                        struct Removed: Encodable { var id: Int64; var removed: Bool }
                        return JSON.response(Removed(id: id, removed: true))
                    }
                    return JSON.response(MaintenanceWindowState(window: window, inForceUntil: nil, nextStart: nil))
                } catch let missing as EscalationError {
                    return JSON.error(.notFound, missing.description.replacingOccurrences(of: "`runbook silences`", with: "GET /api/silences"))
                }
            }
        }
    }

    /// The answer of `body` with the incident desk: 503 when this server has none or the records
    /// cannot be read or written, 400 for a request that says the wrong thing.
    func withDesk(_ body: (IncidentDesk) async throws -> Response) async throws -> Response {
        guard let desk = backend.incidents else { return JSON.error(.serviceUnavailable, "this server keeps no incidents") }
        do {
            return try await body(desk)
        } catch let refused as BadRequest {
            return JSON.error(.badRequest, refused.message)
        } catch let answered as any HTTPResponseError {
            throw answered
        } catch {
            return JSON.error(.serviceUnavailable, "the records did not answer: \(error)")
        }
    }

    struct BadRequest: Error {
        var message: String
    }

    static func incidentID(_ context: BasicRequestContext) throws(BadRequest) -> Int64 {
        guard let text = context.parameters.get("id"), let id = Int64(text) else {
            throw BadRequest(message: "an incident id is a number, as `runbook incidents` shows")
        }
        return id
    }

    /// Who acted and how, for the incident's timeline: `maria (API)`, `maria (dashboard)`, or
    /// the way alone when no name was given.
    static func actor(_ body: [String: String]) throws -> String {
        let via = body["via"] ?? "api"
        guard via == "api" || via == "dashboard" else { throw BadRequest(message: "via is api or dashboard, not '\(via)'") }
        let how = via == "api" ? "API" : "dashboard"
        return body["by"].map { "\($0) (\(how))" } ?? how
    }

    /// A body of text fields among `allowed`; an empty body is no fields. Blank values count as
    /// missing.
    static func fields(_ request: Request, allowed: Set<String>, example: String) async throws -> [String: String] {
        let data = Data(buffer: try await request.body.collect(upTo: 16 * 1024))
        if data.allSatisfy({ [0x20, 0x0A, 0x0D, 0x09].contains($0) }) { return [:] }
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw BadRequest(message: "the body is not a JSON object: send \(example)")
        }
        var fields: [String: String] = [:]
        for key in object.keys.sorted() {
            guard allowed.contains(key) else { throw BadRequest(message: "unknown key '\(key)' in the body: send \(example)") }
            // A flag may come as JSON's true or false.
            if let flag = object[key] as? Bool, !(object[key] is String) {
                fields[key] = String(flag)
                continue
            }
            guard let text = object[key] as? String else { throw BadRequest(message: "\(key) must be text: send \(example)") }
            let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
            if !trimmed.isEmpty { fields[key] = trimmed }
        }
        return fields
    }
}
