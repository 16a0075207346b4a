import Foundation
import Hummingbird
import RunbookCore

extension RunbookHTTPServer {
    /// `GET /api/gate`: how the kill switch stands and its last changes; `POST /api/gate/close`
    /// (`{"reason": ..., "by": ...}`) and `POST /api/gate/open`, with the API token.
    func addGateRoutes(to routes: RouteRegistrar) {
        routes.on(.get, "/api/gate") { _, _ in
            guard let keeper = backend.gate else { return Self.noGate() }
            struct Gate: Encodable {
                var closed: Bool
                var changes: [GateChange]
            }
            do {
                let changes = try await keeper.store.gateChanges(limit: 20)
                return JSON.response(Gate(closed: keeper.gate?.current?.closed ?? changes.first?.closed ?? false, changes: changes))
            } catch {
                return JSON.error(.serviceUnavailable, "the records did not answer: \(error)")
            }
        }
        for (path, closing) in [("/api/gate/close", true), ("/api/gate/open", false)] {
            routes.on(.post, path) { request, _ in
                guard let keeper = backend.gate else { return Self.noGate() }
                let example = closing ? #"{"reason": "WHY", "by": "YOUR NAME"}"# : #"{"by": "YOUR NAME"} (reason optional)"#
                do {
                    let body = try await Self.fields(request, allowed: ["reason", "by", "via"], example: example)
                    let via = body["via"] ?? "api"
                    guard via == "api" || via == "dashboard" else { return JSON.error(.badRequest, "via is api or dashboard, not '\(via)'") }
                    let change = try await keeper.change(closed: closing, reason: body["reason"] ?? "", by: body["by"] ?? via, via: via)
                    return JSON.response(change)
                } catch let refused as BadRequest {
                    return JSON.error(.badRequest, refused.message)
                } catch let refused as GateRefused {
                    return JSON.error(.badRequest, "\(refused): send \(example)")
                } catch let partly as GateNotRecorded {
                    return JSON.error(.serviceUnavailable, "\(partly)")
                } catch let answered as any HTTPResponseError {
                    throw answered
                } catch {
                    return JSON.error(.serviceUnavailable, "the records did not answer, and the gate was not \(closing ? "closed" : "opened"): \(error)")
                }
            }
        }
    }

    static func noGate() -> Response {
        JSON.error(.serviceUnavailable, "this server has no gate: it is on the command router of `runbook up`")
    }
}
