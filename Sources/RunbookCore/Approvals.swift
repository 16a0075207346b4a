import Foundation

/// A run waiting at an `approve` step for people to say yes or no. The wait is in the records,
/// not in memory: the run's status is `waiting` while it lasts, people's answers are kept with
/// it, and an engine that restarts takes its waiting runs up again where they stood.
public struct ApprovalRequest: Sendable, Equatable, Codable {
    public enum Status: String, Sendable, Codable, CaseIterable {
        case waiting, approved, rejected, expired
    }

    /// The question's own id: a button or a page names it, so that an answer meant for one
    /// question never counts for a later one of the same run.
    public var id: Int64
    public var runID: Int64
    public var stepIndex: Int
    public var stepID: String
    public var runbook: String
    /// What the people are asked, as the runbook says it (secrets masked).
    public var message: String
    /// Who may answer, by name (`maria`) or Telegram user (`telegram:111`); empty: anyone who
    /// may act (a token holder, a Telegram user on the channel's `allowed_users`, the CLI).
    public var approvers: [String]
    /// How many different people must approve.
    public var minApprovals: Int
    public var requestedAt: Date
    /// When the wait ends without a decision (the step's `timeout` from `requestedAt`).
    public var deadline: Date?
    public var status: Status
    public var decidedAt: Date?
    /// The answers so far, oldest first.
    public var votes: [ApprovalVote]
    /// The process that runs the waiting run (the records' `owner` of the run).
    public var owner: String

    public init(
        runID: Int64, stepIndex: Int, stepID: String, runbook: String, message: String, approvers: [String], minApprovals: Int,
        requestedAt: Date, deadline: Date?, status: Status = .waiting, decidedAt: Date? = nil, votes: [ApprovalVote] = [], owner: String = "",
        id: Int64 = 0
    ) {
        self.id = id
        self.runID = runID
        self.stepIndex = stepIndex
        self.stepID = stepID
        self.runbook = runbook
        self.message = message
        self.approvers = approvers
        self.minApprovals = minApprovals
        self.requestedAt = requestedAt
        self.deadline = deadline
        self.status = status
        self.decidedAt = decidedAt
        self.votes = votes
        self.owner = owner
    }

    /// The answers that count: those given by the deadline.
    public var counted: [ApprovalVote] { votes.filter { vote in deadline.map { vote.at <= $0 } ?? true } }
    /// The different people who approved, in the order they did.
    public var approvedBy: [ApprovalVote] { counted.filter { $0.decision == .approve } }
    /// The first rejection, which ends the wait.
    public var rejection: ApprovalVote? { counted.first { $0.decision == .reject } }

    /// What the answers so far decide: nil while more approvals are needed.
    public var decision: Status? {
        if rejection != nil { return .rejected }
        return approvedBy.count >= minApprovals ? .approved : nil
    }

    /// "1 of 2 approvals (maria (CLI))".
    public var tally: String {
        let names = approvedBy.map(\.by).joined(separator: ", ")
        return "\(approvedBy.count) of \(minApprovals) approval\(minApprovals == 1 ? "" : "s")" + (names.isEmpty ? "" : " (\(names))")
    }

    /// Whether `person` may answer: anyone when no approvers are named. Names are compared
    /// without regard to case: `Maria` and `maria` are one person.
    public func allows(_ person: Approver) -> Bool {
        approvers.isEmpty || approvers.contains { $0.lowercased() == person.identity }
    }
}

/// One person's answer.
public struct ApprovalVote: Sendable, Equatable, Codable {
    public enum Decision: String, Sendable, Codable {
        case approve, reject
    }

    /// Who, as `approvers` names people: `maria`, `telegram:111`.
    public var person: String
    /// Who and how, as people read it: `maria (CLI)`, `@ann (Telegram user 111)`.
    public var by: String
    public var decision: Decision
    public var reason: String
    public var at: Date

    public init(person: String, by: String, decision: Decision, reason: String, at: Date) {
        self.person = person
        self.by = by
        self.decision = decision
        self.reason = reason
        self.at = at
    }
}

/// A person answering: who they are to `approvers` (lowercased), and how they are shown.
/// A name given on the CLI, the API or the dashboard is taken as given (whoever may use those
/// may give any name); a Telegram user is the id Telegram vouches for, which no name can take.
public struct Approver: Sendable, Equatable {
    public var identity: String
    public var display: String
    public var fromTelegram: Bool

    /// Someone named on the CLI, the API or the dashboard: `maria (CLI)`.
    public static func named(_ name: String, via: String) -> Approver {
        let name = name.trimmingCharacters(in: .whitespacesAndNewlines)
        return Approver(identity: name.lowercased(), display: "\(name) (\(via))", fromTelegram: false)
    }

    /// A Telegram user by the id Telegram gives: `telegram:111`, shown `@ann (Telegram user 111)`.
    public static func telegram(userID: Int64, name: String) -> Approver {
        Approver(identity: "telegram:\(userID)", display: "\(name) (Telegram user \(userID))", fromTelegram: true)
    }
}

/// Where approval requests and answers are kept: the records, beside the runs.
public protocol ApprovalStore: Sendable {
    /// Records that the run waits at its step (the run's status becomes `waiting`), or returns
    /// the request already there for the same step of the run, with its answers: a run taken up
    /// again after a restart waits on for the same request, until the same deadline.
    func requestApproval(_ request: ApprovalRequest) async throws -> ApprovalRequest
    /// The run's latest request, with its answers.
    func approval(runID: Int64) async throws -> ApprovalRequest?
    /// The request with its own id (a question's), with its answers.
    func approval(id: Int64) async throws -> ApprovalRequest?
    /// Adds `vote` to the run's waiting request `id` unless the same person answered already or
    /// the vote comes after the deadline; returns the request as it then stands. Nil when that
    /// request does not wait (or is not the run's latest).
    func addVote(runID: Int64, id: Int64, _ vote: ApprovalVote) async throws -> ApprovalRequest?
    /// Ends the wait of request `id` with `status`, the run `running` again, if the request still
    /// waits and holds exactly `answers` answers (none came since the step decided); false if not.
    func settleApproval(runID: Int64, id: Int64, status: ApprovalRequest.Status, answers: Int, at: Date) async throws -> Bool
    /// The requests still waiting, oldest first.
    func waitingApprovals() async throws -> [ApprovalRequest]
    /// Makes this process the owner of a waiting run whose owner was `from` (a process that
    /// stopped); false when another took it first or it no longer waits.
    func adoptWaitingRun(_ runID: Int64, from owner: String) async throws -> Bool
}

/// Why an answer was not taken.
public struct ApprovalRefused: Error, Sendable, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// Takes people's answers to waiting runs, from any of the ways in (CLI, API, dashboard,
/// Telegram): checks the run waits and the person may answer, and records the answer. The
/// waiting step reads the answers and goes on.
public struct ApprovalDesk: Sendable {
    public let store: any ApprovalStore

    public init(store: any ApprovalStore) {
        self.store = store
    }

    /// What came of an answer.
    public struct Answered: Sendable {
        public var request: ApprovalRequest
        /// False when the person had answered already: their first answer stands.
        public var recorded: Bool

        /// "run 12 approved by maria (CLI): 1 of 2 approvals (maria (CLI)); it waits for 1 more".
        public var text: String {
            let vote = request.votes.first { $0.person == mine }
            let what = vote.map { "\($0.decision == .approve ? "approved" : "rejected") by \($0.by)" } ?? "answered"
            var line = "run \(request.runID) \(what)"
            if !recorded { line += " already, at \(ApprovalDesk.stamp(vote?.at ?? request.requestedAt))" }
            switch request.decision {
            case .rejected?: line += ": step '\(request.stepID)' fails"
            case .approved?: line += ": \(request.tally); the run goes on"
            default:
                let missing = request.minApprovals - request.approvedBy.count
                line += ": \(request.tally); it waits for \(missing) more"
            }
            return line
        }

        fileprivate var mine: String
    }

    /// Records `person`'s answer to run `runID`: to `question` when the page or button names
    /// one (an answer meant for an earlier question is refused), else to the run's current one.
    /// Throws `ApprovalRefused` saying why when the run does not wait or the person may not answer.
    public func answer(
        runID: Int64, question: Int64? = nil, decision: ApprovalVote.Decision, by person: Approver, reason: String = "", at: Date = Date()
    ) async throws -> Answered {
        let reason = reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !person.identity.isEmpty else { throw ApprovalRefused("say who answers: a name is required") }
        guard reason.count <= 500, person.identity.count <= 200 else { throw ApprovalRefused("the reason is limited to 500 characters and the name to 200") }
        // One line of visible text: no control characters, and none of the invisible ones that
        // make two names look alike (zero-width, right-to-left marks).
        guard !(reason + person.identity + person.display).unicodeScalars.contains(where: {
            [.control, .format, .lineSeparator, .paragraphSeparator].contains($0.properties.generalCategory)
        }) else {
            throw ApprovalRefused("the reason and the name are one line of visible text, without control or invisible characters")
        }
        if person.identity.hasPrefix("telegram:"), !person.fromTelegram {
            throw ApprovalRefused("'\(person.identity)' names a Telegram user, who answers with the buttons under the question in the chat")
        }
        guard let request = try await store.approval(runID: runID) else {
            throw ApprovalRefused("run \(runID) has not waited for approval: `runbook history --status waiting` lists the runs that wait")
        }
        if let question, question != request.id {
            throw ApprovalRefused("that question was closed; run \(runID) now asks at step '\(request.stepID)' (\(request.status.rawValue)): answer that one, as `runbook show \(runID)` shows it")
        }
        guard request.status == .waiting else {
            let ended = switch request.status {
            case .approved: "it was approved"
            case .rejected: "it was rejected"
            default: "it stopped waiting (no decision by its deadline, or the run ended)"
            }
            throw ApprovalRefused("run \(runID) no longer waits at step '\(request.stepID)': \(ended)\(request.decidedAt.map { " at \(Self.stamp($0))" } ?? "")")
        }
        let at = Date(timeIntervalSince1970: (at.timeIntervalSince1970 * 1000).rounded() / 1000)
        if let deadline = request.deadline, at > deadline {
            throw ApprovalRefused("run \(runID) waited for answers until \(Self.stamp(deadline)): too late, its step '\(request.stepID)' fails")
        }
        guard request.allows(person) else {
            throw ApprovalRefused("\(person.display) may not answer run \(runID): step '\(request.stepID)' names its approvers (\(request.approvers.joined(separator: ", ")))")
        }
        if request.votes.contains(where: { $0.person == person.identity }) {
            return Answered(request: request, recorded: false, mine: person.identity)
        }
        let vote = ApprovalVote(person: person.identity, by: person.display, decision: decision, reason: reason, at: at)
        guard let updated = try await store.addVote(runID: runID, id: request.id, vote) else {
            throw ApprovalRefused("run \(runID) stopped waiting while the answer was being recorded: `runbook show \(runID)` says how it went")
        }
        // The same answer read back (times as the records keep them, to the millisecond).
        let recorded = updated.votes.contains { $0.person == vote.person && $0.decision == vote.decision && abs($0.at.timeIntervalSince(vote.at)) < 0.0005 }
        return Answered(request: updated, recorded: recorded, mine: person.identity)
    }

    static func stamp(_ date: Date) -> String {
        ISO8601DateFormatter().string(from: date)
    }
}
