import Foundation
import PostgresNIO
import RunbookCore

/// Approval requests and answers beside the runs, in PostgreSQL: the request and the run's
/// `waiting` status change in one transaction, and so do an answer and the check that the run
/// still waits (the request's row is locked while it is answered).
extension PostgresRunRecorder: ApprovalStore {
    public func requestApproval(_ request: ApprovalRequest) async throws -> ApprovalRequest {
        let approvers = String(decoding: try JSONSerialization.data(withJSONObject: request.approvers), as: UTF8.self)
        return try await database.recordInTransaction { connection in
            if let waiting = try await Self.latest(connection, runID: request.runID, lock: true), waiting.status == .waiting, waiting.stepIndex == request.stepIndex {
                try await connection.sql("UPDATE runs SET status = 'waiting' WHERE id = \(request.runID) AND status IN ('running', 'waiting')")
                return waiting
            }
            try await connection.sql("""
                INSERT INTO approvals (run_id, step_index, step_id, runbook, message, approvers, min_approvals, requested_at, deadline, status)
                VALUES (\(request.runID), \(request.stepIndex), \(request.stepID), \(request.runbook), \(request.message), \(approvers), \(request.minApprovals),
                    \(Stamp(request.requestedAt)), \(request.deadline.map(Stamp.init)), 'waiting')
                """)
            try await connection.sql("UPDATE runs SET status = 'waiting' WHERE id = \(request.runID) AND status IN ('running', 'waiting')")
            return try await Self.latest(connection, runID: request.runID, lock: false)!
        }
    }

    public func approval(runID: Int64) async throws -> ApprovalRequest? {
        try await database.record { try await Self.latest($0, runID: runID, lock: false) }
    }

    public func approval(id: Int64) async throws -> ApprovalRequest? {
        try await database.record { connection in
            guard let runID = try await connection.row("SELECT run_id FROM approvals WHERE id = \(id)", { try $0("run_id", as: Int64.self) }) else { return nil }
            return try await Self.latest(connection, runID: runID, id: id, lock: false)
        }
    }

    public func addVote(runID: Int64, id: Int64, _ vote: ApprovalVote) async throws -> ApprovalRequest? {
        try await database.recordInTransaction { connection in
            // The question's row locked: a vote and the step closing the question take turns.
            guard let request = try await Self.latest(connection, runID: runID, lock: true), request.id == id, request.status == .waiting,
                  request.deadline.map({ vote.at <= $0 }) ?? true
            else { return nil }
            try await connection.sql("""
                INSERT INTO approval_votes (approval_id, person, by, decision, reason, at)
                VALUES (\(id), \(vote.person), \(vote.by), \(vote.decision.rawValue), \(vote.reason), \(Stamp(vote.at)))
                ON CONFLICT (approval_id, person) DO NOTHING
                """)
            return try await Self.latest(connection, runID: runID, lock: false)
        }
    }

    public func settleApproval(runID: Int64, id: Int64, status: ApprovalRequest.Status, answers: Int, at: Date) async throws -> Bool {
        try await database.recordInTransaction { connection in
            guard try await connection.count("SELECT 1 FROM approvals WHERE id = \(id) AND run_id = \(runID) AND status = 'waiting' FOR UPDATE") == 1,
                  try await connection.row("SELECT count(*) AS n FROM approval_votes WHERE approval_id = \(id)", { try $0("n", as: Int64.self) }) == Int64(answers)
            else { return false }
            try await connection.sql("UPDATE approvals SET status = \(status.rawValue), decided_at = \(Stamp(at)) WHERE id = \(id)")
            try await connection.sql("UPDATE runs SET status = 'running' WHERE id = \(runID) AND status = 'waiting'")
            return true
        }
    }

    public func waitingApprovals() async throws -> [ApprovalRequest] {
        try await database.record { connection in
            let runs = try await connection.rows("""
                SELECT a.run_id FROM approvals a JOIN runs r ON r.id = a.run_id
                WHERE a.status = 'waiting' AND r.status = 'waiting' AND a.id = (SELECT max(id) FROM approvals WHERE run_id = a.run_id)
                ORDER BY a.requested_at, a.id
                """) { try $0("run_id", as: Int64.self) }
            var requests: [ApprovalRequest] = []
            for run in runs {
                if let request = try await Self.latest(connection, runID: run, lock: false) { requests.append(request) }
            }
            return requests
        }
    }

    /// Only this engine's runs: another engine's process cannot be told dead from here.
    public func adoptWaitingRun(_ runID: Int64, from owner: String) async throws -> Bool {
        let (me, engine) = (ProcessIdentity.current, engine)
        return try await database.record { connection in
            try await connection.count("""
                UPDATE runs SET owner = \(me) WHERE id = \(runID) AND status = 'waiting' AND owner = \(owner) AND engine = \(engine) RETURNING 1
                """) == 1
        }
    }

    /// A request still waiting whose run ended (cancelled while it waited) waits no more.
    private static func status(_ status: String, run: String) -> ApprovalRequest.Status {
        if status == "waiting", run != "waiting", run != "running" { return .expired }
        return ApprovalRequest.Status(rawValue: status) ?? .expired
    }

    /// The run's latest request with its answers, and the run's owner.
    private static func latest(_ connection: PostgresConnection, runID: Int64, id wanted: Int64? = nil, lock: Bool) async throws -> ApprovalRequest? {
        let wanted = wanted ?? 0
        let query: PostgresQuery = lock
            ? "SELECT a.*, r.owner AS owner, r.status AS run_status FROM approvals a JOIN runs r ON r.id = a.run_id WHERE a.run_id = \(runID) AND (\(wanted) = 0 OR a.id = \(wanted)) ORDER BY a.id DESC LIMIT 1 FOR UPDATE OF a"
            : "SELECT a.*, r.owner AS owner, r.status AS run_status FROM approvals a JOIN runs r ON r.id = a.run_id WHERE a.run_id = \(runID) AND (\(wanted) = 0 OR a.id = \(wanted)) ORDER BY a.id DESC LIMIT 1"
        guard var request = try await connection.row(query, { row in
            ApprovalRequest(
                runID: try row("run_id"), stepIndex: try row("step_index"), stepID: try row("step_id"), runbook: try row("runbook"),
                message: try row("message"),
                approvers: (try? JSONSerialization.jsonObject(with: Data(try row("approvers", as: String.self).utf8))) as? [String] ?? [],
                minApprovals: try row("min_approvals"), requestedAt: try row.date("requested_at"), deadline: try row.date(optional: "deadline"),
                status: Self.status(try row("status"), run: try row("run_status")), decidedAt: try row.date(optional: "decided_at"),
                votes: [], owner: try row("owner"), id: try row("id")
            )
        })
        else { return nil }
        let id = request.id
        request.votes = try await connection.rows("SELECT * FROM approval_votes WHERE approval_id = \(id) ORDER BY at, person") { vote in
            ApprovalVote(
                person: try vote("person"), by: try vote("by"), decision: ApprovalVote.Decision(rawValue: try vote("decision")) ?? .reject,
                reason: try vote("reason"), at: try vote.date("at")
            )
        }
        return request
    }
}
