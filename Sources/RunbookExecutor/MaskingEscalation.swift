import Foundation
import RunbookCore
import RunbookModel
import RunbookSteps

/// The engine's incidents and outbox as a run's steps reach them: the run's secrets are masked in
/// every reason, subject and message before they are stored, so neither the outbox nor what the
/// channels send ever holds one.
struct MaskingEscalation: Escalating {
    let underlying: any Escalating
    let secrets: Secrets

    /// `services` with their escalation, when they have one, seen through `secrets`.
    static func services(_ services: EngineServices, masking secrets: Secrets) -> EngineServices {
        var masked = services
        masked.escalation = services.escalation.map { MaskingEscalation(underlying: $0, secrets: secrets) }
        masked.approvals = services.approvals.map { MaskingApprovals(underlying: $0, secrets: secrets) }
        return masked
    }

    func escalate(runID: Int64, runbook: String, level: Int, reason: String) async throws -> String {
        try await underlying.escalate(runID: runID, runbook: runbook, level: level, reason: secrets.mask(reason))
    }

    func notify(runID: Int64, runbook: String, subject: String, message: String, severity: Severity, channels: [String]) async throws -> String {
        try await underlying.notify(
            runID: runID, runbook: runbook, subject: secrets.mask(subject), message: secrets.mask(message), severity: severity, channels: channels
        )
    }

    func askApproval(runID: Int64, question: Int64, runbook: String, subject: String, message: String, channels: [String]) async throws -> String {
        try await underlying.askApproval(runID: runID, question: question, runbook: runbook, subject: secrets.mask(subject), message: secrets.mask(message), channels: channels)
    }
}

/// The records where runs wait for people, as a run's steps reach them: the run's secrets are
/// masked in the question before it is stored.
struct MaskingApprovals: ApprovalStore {
    let underlying: any ApprovalStore
    let secrets: Secrets

    func requestApproval(_ request: ApprovalRequest) async throws -> ApprovalRequest {
        var masked = request
        masked.message = secrets.mask(request.message)
        return try await underlying.requestApproval(masked)
    }

    func approval(runID: Int64) async throws -> ApprovalRequest? { try await underlying.approval(runID: runID) }
    func approval(id: Int64) async throws -> ApprovalRequest? { try await underlying.approval(id: id) }
    func addVote(runID: Int64, id: Int64, _ vote: ApprovalVote) async throws -> ApprovalRequest? { try await underlying.addVote(runID: runID, id: id, vote) }
    func settleApproval(runID: Int64, id: Int64, status: ApprovalRequest.Status, answers: Int, at: Date) async throws -> Bool {
        try await underlying.settleApproval(runID: runID, id: id, status: status, answers: answers, at: at)
    }
    func waitingApprovals() async throws -> [ApprovalRequest] { try await underlying.waitingApprovals() }
    func adoptWaitingRun(_ runID: Int64, from owner: String) async throws -> Bool { try await underlying.adoptWaitingRun(runID, from: owner) }
}
