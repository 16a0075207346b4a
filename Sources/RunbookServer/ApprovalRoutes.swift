import Foundation
import Hummingbird
import RunbookCore

extension RunbookHTTPServer {
    /// `GET /api/approvals`: the runs waiting at an `approve` step, with the answers so far;
    /// `POST /api/runs/:id/approve` and `/reject` (`{"by": ..., "reason": ...}`), with the API token.
    func addApprovalRoutes(to routes: RouteRegistrar) {
        routes.on(.get, "/api/approvals") { _, _ in
            guard let desk = backend.approvals else { return Self.noApprovals() }
            struct Waiting: Encodable { var approvals: [ApprovalRequest] }
            do {
                return JSON.response(Waiting(approvals: try await desk.store.waitingApprovals()))
            } catch {
                return JSON.error(.serviceUnavailable, "the records did not answer: \(error)")
            }
        }
        for (path, decision) in [("/api/runs/:id/approve", ApprovalVote.Decision.approve), ("/api/runs/:id/reject", .reject)] {
            routes.on(.post, path) { request, context in
                guard let desk = backend.approvals else { return Self.noApprovals() }
                guard let text = context.parameters.get("id"), let id = Int64(text) else {
                    return JSON.error(.badRequest, "a run id is a number, as `runbook history --status waiting` shows")
                }
                let example = #"{"by": "YOUR NAME", "reason": "WHY", "question": "ID"} (reason optional; question: the id /api/approvals gives, so that an answer never counts for a later question)"#
                do {
                    let body = try await Self.fields(request, allowed: ["by", "reason", "via", "question"], example: example)
                    let via = body["via"] ?? "api"
                    guard via == "api" || via == "dashboard" else { return JSON.error(.badRequest, "via is api or dashboard, not '\(via)'") }
                    guard let name = body["by"] else { return JSON.error(.badRequest, "say who answers: send \(example)") }
                    let question = try body["question"].map { text in
                        guard let number = Int64(text) else { throw BadRequest(message: "question is the id /api/approvals gives, a number: send \(example)") }
                        return number
                    }
                    let answered = try await desk.answer(runID: id, question: question, decision: decision, by: .named(name, via: via == "api" ? "API" : "dashboard"), reason: body["reason"] ?? "")
                    struct Answer: Encodable {
                        var recorded: Bool
                        var text: String
                        var approval: ApprovalRequest
                    }
                    return JSON.response(Answer(recorded: answered.recorded, text: answered.text, approval: answered.request))
                } catch let refused as BadRequest {
                    return JSON.error(.badRequest, refused.message)
                } catch let refused as ApprovalRefused {
                    return JSON.error(.conflict, refused.description)
                } catch let answered as any HTTPResponseError {
                    throw answered
                } catch {
                    return JSON.error(.serviceUnavailable, "the records did not answer, and the answer was not recorded: \(error)")
                }
            }
        }
    }

    static func noApprovals() -> Response {
        JSON.error(.serviceUnavailable, "this server has no records of runs to answer: approvals are taken by `runbook up`")
    }
}
