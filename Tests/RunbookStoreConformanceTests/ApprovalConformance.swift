import Foundation
import RunbookCore
import RunbookExecutor
import Testing

/// What every ApprovalStore must do: the run waits in the records, a question taken up again is
/// the same question, each person answers once, and a run that ended waits no more.
@Suite struct ApprovalConformance {
    @Test(arguments: RecordsBackend.allCases)
    func aRunWaitsInTheRecordsAndEachPersonAnswersOnce(_ backend: RecordsBackend) async throws {
        let place = try await RecordsPlace(backend)
        defer { place.remove() }
        let runs = try await place.open().runs
        let id = try await runs.startRun(RunStart(runbook: "restart", contentHash: "h", trigger: .check, params: [:], parentRunID: nil, startedAt: At.seconds(0)))
        let asked = ApprovalRequest(
            runID: id, stepIndex: 1, stepID: "ask", runbook: "restart", message: "Restart 'ea-01'?", approvers: ["maria", "telegram:111"], minApprovals: 2,
            requestedAt: At.seconds(1), deadline: At.seconds(601)
        )
        let request = try await runs.requestApproval(asked)
        #expect(request.status == .waiting && request.approvers == ["maria", "telegram:111"] && request.deadline == At.seconds(601))
        #expect(try await runs.run(id: id)?.status == "waiting")
        // Taken up again after a restart: the same question, its time and deadline kept.
        var later = asked
        later.requestedAt = At.seconds(50)
        later.deadline = At.seconds(650)
        #expect(try await runs.requestApproval(later).requestedAt == At.seconds(1))

        let desk = ApprovalDesk(store: runs)
        let first = try await desk.answer(runID: id, decision: .approve, by: .named("maria", via: "CLI"), reason: "checked", at: At.seconds(2))
        #expect(first.recorded && first.request.decision == nil && first.request.tally == "1 of 2 approvals (maria (CLI))")
        let twice = try await desk.answer(runID: id, decision: .reject, by: .named("maria", via: "API"), at: At.seconds(3))
        #expect(!twice.recorded && twice.request.votes.count == 1, "the first answer stands")
        await #expect(throws: ApprovalRefused.self) { try await desk.answer(runID: id, decision: .approve, by: .named("mallory", via: "CLI")) }
        // A name on the CLI or the API cannot pass for a Telegram user, nor a case change for another person.
        await #expect(throws: ApprovalRefused.self) { try await desk.answer(runID: id, decision: .approve, by: .named("telegram:111", via: "API"), at: At.seconds(3)) }
        #expect(try await !desk.answer(runID: id, decision: .approve, by: .named("Maria", via: "API"), at: At.seconds(3)).recorded)
        // An answer meant for another question of the run is refused.
        await #expect(throws: ApprovalRefused.self) { try await desk.answer(runID: id, question: request.id + 1, decision: .approve, by: .telegram(userID: 111, name: "@ann")) }
        let second = try await desk.answer(runID: id, question: request.id, decision: .approve, by: .telegram(userID: 111, name: "@ann"), at: At.seconds(4))
        #expect(second.request.decision == .approved)
        #expect(try await runs.waitingApprovals().map(\.runID) == [id])

        // Closed only with the answers the step read: one that came since is read first.
        #expect(try await !runs.settleApproval(runID: id, id: request.id, status: .approved, answers: 1, at: At.seconds(5)))
        #expect(try await runs.settleApproval(runID: id, id: request.id, status: .approved, answers: 2, at: At.seconds(5)))
        #expect(try await runs.run(id: id)?.status == "running")
        #expect(try await runs.waitingApprovals().isEmpty)
        let settled = try #require(try await runs.approval(runID: id))
        #expect(settled.status == .approved && settled.decidedAt == At.seconds(5) && settled.votes.map(\.by) == ["maria (CLI)", "@ann (Telegram user 111)"])
        await #expect(throws: ApprovalRefused.self) { try await desk.answer(runID: id, decision: .approve, by: .named("maria", via: "CLI")) }
    }

    @Test(arguments: RecordsBackend.allCases)
    func aRunThatEndedWhileItWaitedTakesNoAnswerAndIsAdoptedOnce(_ backend: RecordsBackend) async throws {
        let place = try await RecordsPlace(backend)
        defer { place.remove() }
        let runs = try await place.open().runs
        let id = try await runs.startRun(RunStart(runbook: "restart", contentHash: "h", trigger: .manual, params: [:], parentRunID: nil, startedAt: At.seconds(0)))
        let request = try await runs.requestApproval(ApprovalRequest(
            runID: id, stepIndex: 0, stepID: "ask", runbook: "restart", message: "go?", approvers: [], minApprovals: 1, requestedAt: At.seconds(1), deadline: nil
        ))
        // Only from the owner it was read with: of two engines, the one that read an owner since replaced takes nothing.
        #expect(try await !runs.adoptWaitingRun(id, from: "boot:1:1"))
        #expect(try await runs.adoptWaitingRun(id, from: request.owner))
        try await runs.finishRun(id, RunOutcome(status: .cancelled, finishedAt: At.seconds(2), escalationLevel: 0, error: "cancelled"), completing: nil)
        #expect(try await runs.approval(runID: id)?.status == .expired)
        #expect(try await runs.waitingApprovals().isEmpty)
        await #expect(throws: ApprovalRefused.self) { try await ApprovalDesk(store: runs).answer(runID: id, decision: .approve, by: .named("ann", via: "CLI")) }
    }

    @Test(arguments: RecordsBackend.allCases)
    func anAnswerAfterTheDeadlineIsRefusedAndDoesNotCount(_ backend: RecordsBackend) async throws {
        let place = try await RecordsPlace(backend)
        defer { place.remove() }
        let runs = try await place.open().runs
        let id = try await runs.startRun(RunStart(runbook: "restart", contentHash: "h", trigger: .manual, params: [:], parentRunID: nil, startedAt: At.seconds(0)))
        let request = try await runs.requestApproval(ApprovalRequest(
            runID: id, stepIndex: 0, stepID: "ask", runbook: "restart", message: "go?", approvers: [], minApprovals: 1, requestedAt: At.seconds(1), deadline: At.seconds(61)
        ))
        await #expect(throws: ApprovalRefused.self) { try await ApprovalDesk(store: runs).answer(runID: id, decision: .approve, by: .named("ann", via: "CLI"), at: At.seconds(62)) }
        // Straight to the store (an answer checked just before the deadline, written after it): not taken.
        #expect(try await runs.addVote(runID: id, id: request.id, ApprovalVote(person: "ann", by: "ann (CLI)", decision: .approve, reason: "", at: At.seconds(62))) == nil)
        #expect(try await runs.approval(runID: id)?.decision == nil)
    }
}
