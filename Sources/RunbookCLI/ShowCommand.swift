import ArgumentParser
import Foundation
import RunbookApp
import RunbookCore
import RunbookExecutor
import RunbookSQLite

/// `runbook show RUN`: one run with every step and attempt.
struct ShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show one recorded run with its steps and attempts.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The run's id (see `runbook history`).")
    var run: Int64

    @Flag(help: "Print the run as JSON.")
    var json = false

    func run() async throws {
        let assembly = Assembly(config: try global.engineConfig())
        guard let records = try await assembly.existingRecords(), let record = try await records.runs.run(id: run) else {
            Console.error("error: no run \(run) in \(assembly.recordsDescription); `runbook history` lists the runs")
            throw ExitStatus.usage.code
        }
        let attempts = try await records.runs.attempts(runID: run)
        let children = try await records.runs.children(of: run)
        let approval = try await records.runs.approval(runID: run)
        // Attempts grouped by step, in the order the steps ran.
        var steps: [(id: String, primitive: String, attempts: [AttemptRecord])] = []
        for attempt in attempts {
            if let last = steps.indices.last, steps[last].id == attempt.stepId {
                steps[last].attempts.append(attempt)
            } else {
                steps.append((attempt.stepId, attempt.primitive, [attempt]))
            }
        }

        if json {
            var object = RunJSON.object(record)
            object["steps"] = steps.map { step in
                [
                    "id": step.id, "primitive": step.primitive, "status": step.attempts.last?.status ?? "unknown",
                    "attempts": step.attempts.filter { $0.attempt > 0 }.map(RunJSON.object),
                ] as [String: Any]
            }
            object["child_runs"] = children.map(RunJSON.object)
            if let approval {
                object["approval"] = [
                    "id": approval.id, "step": approval.stepID, "message": approval.message, "approvers": approval.approvers, "min_approvals": approval.minApprovals,
                    "status": approval.status.rawValue, "requested_at": Timestamp.text(approval.requestedAt),
                    "deadline": approval.deadline.map(Timestamp.text) as Any? ?? NSNull(),
                    "answers": approval.votes.map { ["by": $0.by, "decision": $0.decision.rawValue, "reason": $0.reason, "at": Timestamp.text($0.at)] },
                ] as [String: Any]
            }
            Console.json(object)
            return
        }
        Console.out("run \(record.id): \(record.runbook) \(record.status)" + (record.escalationLevel > 0 ? " (escalation level \(record.escalationLevel))" : ""))
        let origin = record.triggerSource.map { " (\($0)" + (record.dueAt.map { ", due \(Timestamp.text($0))" } ?? "") + ")" } ?? ""
        Console.out("  trigger \(record.trigger)\(origin), started \(Timestamp.text(record.startedAt))" + (record.finishedAt.map { ", finished \(Timestamp.text($0))" } ?? ""))
        if !record.parameters.isEmpty {
            Console.out("  params " + record.parameters.keys.sorted().map { "\($0)=\(record.parameters[$0]!)" }.joined(separator: " "))
        }
        if let error = record.error { Console.out("  error: \(error)") }
        for step in steps {
            // A step a resumed run carried over says so: `succeeded in run 12; not run again`.
            let carried = step.attempts.first { $0.attempt == 0 && !$0.output.isEmpty }.map { " (\($0.output))" } ?? ""
            Console.out("  \(step.id) [\(step.primitive)]: \(step.attempts.last?.status ?? "unknown")\(carried)")
            for attempt in step.attempts where attempt.attempt > 0 {
                var line = "    attempt \(attempt.attempt): \(attempt.status)"
                if let duration = attempt.durationMs { line += " in \(Elapsed.text(milliseconds: duration))" }
                if let code = attempt.exitCode { line += ", exit \(code)" }
                if let error = attempt.error { line += ": \(error)" }
                Console.out(line)
                let output = attempt.output.trimmingCharacters(in: .whitespacesAndNewlines)
                if !output.isEmpty { Console.out(output.split(separator: "\n", omittingEmptySubsequences: false).map { "      | \($0)" }.joined(separator: "\n")) }
            }
        }
        for child in children { Console.out("  started run \(child.id): \(child.runbook) \(child.status)") }
        if let approval {
            let who = approval.approvers.isEmpty ? "anyone who may act" : approval.approvers.joined(separator: ", ")
            Console.out("  approval at step '\(approval.stepID)': \(approval.status.rawValue), \(approval.tally); asked \(Timestamp.text(approval.requestedAt))"
                + (approval.deadline.map { ", until \(Timestamp.text($0))" } ?? "") + "; approvers: \(who)")
            Console.out("    \(approval.message)")
            for vote in approval.votes {
                Console.out("    \(vote.decision == .approve ? "approved" : "rejected") by \(vote.by) at \(Timestamp.text(vote.at))" + (vote.reason.isEmpty ? "" : ": \(vote.reason)"))
            }
            if approval.status == .waiting { Console.out("  answer with: runbook approve \(record.id) [--reject] --by NAME") }
        }
    }
}
