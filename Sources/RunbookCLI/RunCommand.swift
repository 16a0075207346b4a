import ArgumentParser
import Foundation
import RunbookApp
import RunbookExecutor
import RunbookChecks
import RunbookModel
import RunbookSQLite

/// `runbook run NAME`: runs a runbook now, or prints its plan with `--dry-run`.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a runbook.",
        discussion: "Exit codes: 0 succeeded, 1 failed, 2 usage or validation error, 130 cancelled."
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The runbook's name (see `runbook list`).")
    var name: String

    @Option(name: .customLong("param"), help: ArgumentHelp("A parameter, as NAME=VALUE; repeat for more.", valueName: "NAME=VALUE"))
    var params: [String] = []

    @Flag(name: .customLong("dry-run"), help: "Print the plan with resolved inputs; change nothing and record nothing.")
    var dryRun = false

    @Flag(help: "Print the result as JSON.")
    var json = false

    @Flag(help: "Confirm a runbook that requires a person's confirmation (emergency-recovery).")
    var confirm = false

    func run() async throws {
        let assembly = Assembly(config: try global.engineConfig())
        let library = assembly.library()
        let runbook: Runbook
        let values: [String: Value]
        do {
            runbook = try library.resolve(name)
        } catch {
            Console.lookupFailed(error)
            throw ExitStatus.usage.code
        }
        do {
            values = try ParamBinding.bind(try ParamBinding.parse(params), to: runbook)
        } catch {
            Console.error("error: \(error.description)")
            throw ExitStatus.usage.code
        }

        if runbook.requiresConfirmation, !confirm, !dryRun {
            Console.error("error: runbook '\(runbook.name)' requires a person's confirmation (it acts on the whole engine): look at its plan with --dry-run, then run it again with --confirm")
            throw ExitStatus.usage.code
        }

        if dryRun {
            let plan = assembly.executor(recorder: PlanOnly(), library: library, observer: nil).plan(runbook, params: values)
            printPlan(plan, runbook: runbook)
            return
        }

        let report = await Self.execute(runbook, params: values, assembly: assembly, library: library, records: try await assembly.records(), progress: !json)
        if json { Console.json(Self.json(report)) }
        switch report.status {
        case .succeeded: return
        case .cancelled: throw ExitStatus.cancelled.code
        default: throw ExitStatus.failed.code
        }
    }

    /// Runs `runbook` in this process, printing its progress, with steps that reach the running
    /// `runbook up` (restart, check, probe) and the records' incidents and outbox (escalate,
    /// notify). Ctrl-C cancels it.
    static func execute(
        _ runbook: Runbook, params: [String: Value], assembly: Assembly, library: RunbookLibrary, records: Records, progress: Bool,
        trigger: Trigger = .manual, origin: RunOrigin? = nil, resume: ResumePoint? = nil
    ) async -> RunReport {
        let observer: ProgressPrinter? = progress ? ProgressPrinter(live: Console.isTerminal) : nil
        let folder = assembly.config.checksDirectory
        let checks = CheckBook(
            loading: { (try? CheckLoader(probes: Catalog.probes).loadAll(paths: [folder])) ?? [] },
            evaluator: CheckEvaluator(probes: Catalog.probes, environment: assembly.checkServices(records: records))
        )
        let services = assembly.stepServices(records: records, checks: checks)
        let executor = assembly.executor(recorder: records.runs, library: library, observer: observer, services: services)
        let task = Task { await executor.run(runbook, params: params, trigger: trigger, origin: origin, resume: resume) }
        let cancellation = SignalCancellation(cancelling: task)
        let report = await task.value
        withExtendedLifetime(cancellation) {}
        return report
    }

    private func printPlan(_ plan: [PlannedStep], runbook: Runbook) {
        if json {
            Console.json([
                "runbook": runbook.name, "dry_run": true,
                "steps": plan.map { step -> [String: Any] in
                    var object: [String: Any] = ["id": step.id, "primitive": step.primitive, "inputs": step.inputs, "action": step.action]
                    if let condition = step.condition { object["when"] = condition }
                    if let holds = step.conditionHolds { object["when_holds"] = holds }
                    if let timeout = step.timeout { object["timeout"] = DurationText.format(timeout) }
                    if step.retries.count > 0 { object["retries"] = step.retries.count }
                    object["on_failure"] = Self.text(step.onFailure)
                    return object
                },
            ])
            return
        }
        Console.out("plan for \(runbook.name) (dry run: nothing is changed or recorded)")
        for (index, step) in plan.enumerated() {
            Console.out("\(index + 1). \(step.id) [\(step.primitive)]: \(step.action)")
            if let condition = step.condition {
                let verdict = step.conditionHolds.map { $0 ? "holds now" : "false now: would be skipped" } ?? "decided when the run gets here"
                Console.out("   when \(condition) (\(verdict))")
            }
            for key in step.inputs.keys.sorted() { Console.out("   \(key): \(step.inputs[key]!)") }
            var controls: [String] = []
            if let timeout = step.timeout { controls.append("timeout \(DurationText.format(timeout))") }
            if step.retries.count > 0 { controls.append("\(step.retries.count) retries from \(DurationText.format(step.retries.initialDelay)) to \(DurationText.format(step.retries.maxDelay))") }
            if step.onFailure != .abort { controls.append("on failure: \(Self.text(step.onFailure))") }
            if !controls.isEmpty { Console.out("   " + controls.joined(separator: "; ")) }
        }
    }

    static func text(_ policy: FailurePolicy) -> String {
        switch policy {
        case .abort: return "abort"
        case .continue: return "continue"
        case .escalate(let level): return "escalate to level \(level)"
        case .run(let other): return "run \(other)"
        }
    }

    static func json(_ report: RunReport) -> [String: Any] {
        [
            "run_id": report.runID, "runbook": report.runbook, "status": report.status.rawValue,
            "escalation_level": report.escalationLevel, "error": report.error as Any? ?? NSNull(),
            "steps": report.steps.map { step in
                [
                    "id": step.id, "status": step.status.rawValue, "attempts": step.attempts,
                    "duration_ms": step.duration.milliseconds, "error": step.error as Any? ?? NSNull(),
                ] as [String: Any]
            },
        ]
    }
}
