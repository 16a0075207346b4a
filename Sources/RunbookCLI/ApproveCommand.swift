import ArgumentParser
import Foundation
import RunbookApp
import RunbookCore

/// `runbook approve RUN [--reject] --by NAME`: answers a run waiting at an `approve` step.
struct ApproveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "approve",
        abstract: "Approve (or reject) a run waiting at an approve step.",
        discussion: """
            The answer is recorded with who gave it; the waiting step reads it within a second and goes on (approved), or fails \
            (rejected: on_failure decides what follows). `runbook history --status waiting` lists the runs that wait. \
            Exit codes: 0 recorded, 2 refused (the run does not wait, or NAME is not among the step's approvers).
            """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The waiting run's id.")
    var run: Int64

    @Flag(help: "Reject the run: its approve step fails.")
    var reject = false

    @Option(help: "Who answers (default: the login name); the step's approvers name people so.")
    var by: String?

    @Option(help: "Why, kept with the answer.")
    var reason: String?

    func run() async throws {
        let assembly = Assembly(config: try global.engineConfig())
        guard let records = try await assembly.existingRecords() else {
            Console.error("error: no records at \(assembly.recordsDescription) yet: no run waits")
            throw ExitStatus.usage.code
        }
        let person = Assembly.person(by)
        let answered: ApprovalDesk.Answered
        do {
            answered = try await ApprovalDesk(store: records.runs).answer(
                runID: run, decision: reject ? .reject : .approve, by: .named(person, via: "CLI"), reason: reason ?? ""
            )
        } catch let refused as ApprovalRefused {
            Console.error("error: \(refused)")
            throw ExitStatus.usage.code
        }
        Console.out(answered.text)
        let owner = answered.request.owner
        if answered.request.status == .waiting, !owner.isEmpty, !ProcessIdentity.isAlive(owner), ProcessIdentity.isOfThisBoot(owner) || records.fleet == nil {
            Console.out("note: the process that ran it has stopped; `runbook up` takes the run up again (at once when it is running, else when it starts)")
        }
    }
}
