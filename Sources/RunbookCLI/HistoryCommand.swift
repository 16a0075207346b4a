import ArgumentParser
import Foundation
import RunbookApp
import RunbookCore
import RunbookExecutor
import RunbookModel
import RunbookSQLite

/// `runbook history`: recent runs, newest first.
struct HistoryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "history", abstract: "List recorded runs, newest first.")

    @OptionGroup var global: GlobalOptions

    @Option(help: "Only runs of this runbook.")
    var runbook: String?

    @Option(help: "Only runs with this status (\(RunStatus.allCases.map(\.rawValue).joined(separator: ", "))).")
    var status: String?

    @Option(help: "Only runs started within this time, such as 24h or 7d.")
    var since: String?

    @Option(help: "At most this many runs.")
    var limit = 20

    @Flag(help: "Print the runs as JSON.")
    var json = false

    func validate() throws {
        if let status, RunStatus(rawValue: status) == nil {
            throw ValidationError("--status '\(status)' is not a run status; use one of \(RunStatus.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if let since, DurationText.parse(since) == nil {
            throw ValidationError("--since '\(since)' is not a duration; write it like 24h or 7d")
        }
        if limit < 1 { throw ValidationError("--limit must be 1 or more") }
    }

    func run() async throws {
        let assembly = Assembly(config: try global.engineConfig())
        let sinceDate = since.flatMap(DurationText.parse).map { Date().addingTimeInterval(-$0.seconds) }
        let runs = try await assembly.existingRecords()?.runs.runs(RunFilter(runbook: runbook, status: status, since: sinceDate, limit: limit)) ?? []
        if json {
            Console.json(["runs": runs.map(RunJSON.object)])
            return
        }
        if runs.isEmpty {
            Console.out("no runs recorded in \(assembly.recordsDescription) that match")
            return
        }
        // Records several engines share say which engine ran each run.
        let shared = runs.contains { $0.engine != nil }
        let rows = runs.map { run in
            [String(run.id)] + (shared ? [run.engine ?? "-"] : []) + [
                run.runbook, run.trigger, run.status, run.escalationLevel > 0 ? "L\(run.escalationLevel)" : "-",
                Timestamp.text(run.startedAt), run.finishedAt.map { Elapsed.text(milliseconds: $0.timeIntervalSince(run.startedAt) * 1000) } ?? "-",
            ]
        }
        Table.print(header: ["RUN"] + (shared ? ["ENGINE"] : []) + ["RUNBOOK", "TRIGGER", "STATUS", "LEVEL", "STARTED (UTC)", "TOOK"], rows: rows)
    }
}

/// Column-aligned text tables.
enum Table {
    static func print(header: [String], rows: [[String]]) {
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        for row in [header] + rows {
            Console.out(zip(row, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }.joined(separator: "  ").trimmingCharacters(in: .whitespaces))
        }
    }
}

/// ISO 8601 times in UTC, as records and JSON show them.
enum Timestamp {
    static func text(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }
}

/// The JSON shape of recorded runs and attempts, shared by `history` and `show`.
enum RunJSON {
    static func object(_ run: RunRecord) -> [String: Any] {
        [
            "id": run.id, "runbook": run.runbook, "content_hash": run.contentHash, "trigger": run.trigger,
            "trigger_source": run.triggerSource as Any? ?? NSNull(), "due_at": run.dueAt.map(Timestamp.text) as Any? ?? NSNull(),
            "params": run.parameters, "parent_run_id": run.parentRunId as Any? ?? NSNull(),
            "started_at": Timestamp.text(run.startedAt), "finished_at": run.finishedAt.map(Timestamp.text) as Any? ?? NSNull(),
            "status": run.status, "escalation_level": run.escalationLevel, "error": run.error as Any? ?? NSNull(),
            "engine": run.engine as Any? ?? NSNull(),
        ]
    }

    static func object(_ attempt: AttemptRecord) -> [String: Any] {
        [
            "attempt": attempt.attempt, "status": attempt.status, "started_at": Timestamp.text(attempt.startedAt),
            "finished_at": attempt.finishedAt.map(Timestamp.text) as Any? ?? NSNull(), "duration_ms": attempt.durationMs as Any? ?? NSNull(),
            "exit_code": attempt.exitCode as Any? ?? NSNull(), "output": attempt.output, "error": attempt.error as Any? ?? NSNull(),
        ]
    }
}
