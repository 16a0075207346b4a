import Foundation
import GRDB
import RunbookCore

/// Approval requests and answers beside the runs, in the records database: the request and the
/// run's `waiting` status change in one transaction, and so do an answer and the check that the
/// run still waits.
extension SQLiteRunRecorder: ApprovalStore {
    public func requestApproval(_ request: ApprovalRequest) async throws -> ApprovalRequest {
        let approvers = String(decoding: try JSONSerialization.data(withJSONObject: request.approvers), as: UTF8.self)
        return try await database.write { db in
            if let waiting = try Self.latest(db, runID: request.runID), waiting.status == .waiting, waiting.stepIndex == request.stepIndex {
                try db.execute(sql: "UPDATE runs SET status = 'waiting' WHERE id = ? AND status IN ('running', 'waiting')", arguments: [request.runID])
                return waiting
            }
            try db.execute(sql: """
                INSERT INTO approvals (run_id, step_index, step_id, runbook, message, approvers, min_approvals, requested_at, deadline, status)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'waiting')
                """, arguments: [
                request.runID, request.stepIndex, request.stepID, request.runbook, request.message, approvers, request.minApprovals,
                RecordTime.text(request.requestedAt), request.deadline.map(RecordTime.text),
            ])
            try db.execute(sql: "UPDATE runs SET status = 'waiting' WHERE id = ? AND status IN ('running', 'waiting')", arguments: [request.runID])
            return try Self.latest(db, runID: request.runID)!
        }
    }

    public func approval(runID: Int64) async throws -> ApprovalRequest? {
        try await database.read { db in try Self.latest(db, runID: runID) }
    }

    public func approval(id: Int64) async throws -> ApprovalRequest? {
        try await database.read { db in
            guard let runID = try Int64.fetchOne(db, sql: "SELECT run_id FROM approvals WHERE id = ?", arguments: [id]),
                  let latest = try Self.latest(db, runID: runID, id: id)
            else { return nil }
            return latest
        }
    }

    public func addVote(runID: Int64, id: Int64, _ vote: ApprovalVote) async throws -> ApprovalRequest? {
        try await database.write { db in
            guard let request = try Self.latest(db, runID: runID), request.id == id, request.status == .waiting,
                  request.deadline.map({ vote.at <= $0 }) ?? true
            else { return nil }
            try db.execute(sql: """
                INSERT INTO approval_votes (approval_id, person, by, decision, reason, at) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (approval_id, person) DO NOTHING
                """, arguments: [id, vote.person, vote.by, vote.decision.rawValue, vote.reason, RecordTime.text(vote.at)])
            return try Self.latest(db, runID: runID)
        }
    }

    public func settleApproval(runID: Int64, id: Int64, status: ApprovalRequest.Status, answers: Int, at: Date) async throws -> Bool {
        try await database.write { db in
            guard try Int.fetchOne(db, sql: "SELECT count(*) FROM approval_votes WHERE approval_id = ?", arguments: [id]) == answers else { return false }
            try db.execute(sql: "UPDATE approvals SET status = ?, decided_at = ? WHERE id = ? AND run_id = ? AND status = 'waiting'", arguments: [
                status.rawValue, RecordTime.text(at), id, runID,
            ])
            guard db.changesCount == 1 else { return false }
            try db.execute(sql: "UPDATE runs SET status = 'running' WHERE id = ? AND status = 'waiting'", arguments: [runID])
            return true
        }
    }

    public func waitingApprovals() async throws -> [ApprovalRequest] {
        try await database.read { db in
            let runs = try Int64.fetchAll(db, sql: """
                SELECT a.run_id FROM approvals a JOIN runs r ON r.id = a.run_id
                WHERE a.status = 'waiting' AND r.status = 'waiting' AND a.id = (SELECT max(id) FROM approvals WHERE run_id = a.run_id)
                ORDER BY a.requested_at, a.id
                """)
            return try runs.compactMap { try Self.latest(db, runID: $0) }
        }
    }

    public func adoptWaitingRun(_ runID: Int64, from owner: String) async throws -> Bool {
        let me = ProcessIdentity.current
        return try await database.write { db in
            try db.execute(sql: "UPDATE runs SET owner = ? WHERE id = ? AND status = 'waiting' AND owner = ?", arguments: [me, runID, owner])
            return db.changesCount == 1
        }
    }

    /// The run's latest request (or its request `id`) with its answers, and the run's owner.
    private static func latest(_ db: Database, runID: Int64, id wanted: Int64? = nil) throws -> ApprovalRequest? {
        guard let row = try Row.fetchOne(db, sql: """
            SELECT a.id, a.run_id, a.step_index, a.step_id, a.runbook, a.message, a.approvers, a.min_approvals, a.requested_at, a.deadline,
                a.decided_at, r.owner AS owner,
                CASE WHEN a.status = 'waiting' AND r.status NOT IN ('waiting', 'running') THEN 'expired' ELSE a.status END AS status
            FROM approvals a JOIN runs r ON r.id = a.run_id WHERE a.run_id = ? AND (? IS NULL OR a.id = ?) ORDER BY a.id DESC LIMIT 1
            """, arguments: [runID, wanted, wanted])
        else { return nil }
        let id: Int64 = row["id"]
        let votes = try Row.fetchAll(db, sql: "SELECT * FROM approval_votes WHERE approval_id = ? ORDER BY at, person", arguments: [id]).map { vote in
            ApprovalVote(
                person: vote["person"], by: vote["by"], decision: ApprovalVote.Decision(rawValue: vote["decision"]) ?? .reject,
                reason: vote["reason"], at: vote["at"]
            )
        }
        let approvers = (try? JSONSerialization.jsonObject(with: Data((row["approvers"] as String).utf8))) as? [String] ?? []
        return ApprovalRequest(
            runID: row["run_id"], stepIndex: row["step_index"], stepID: row["step_id"], runbook: row["runbook"], message: row["message"],
            approvers: approvers, minApprovals: row["min_approvals"], requestedAt: row["requested_at"], deadline: row["deadline"],
            status: ApprovalRequest.Status(rawValue: row["status"]) ?? .expired, decidedAt: row["decided_at"], votes: votes, owner: row["owner"], id: id
        )
    }
}
