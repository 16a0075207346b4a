import ArgumentParser
import Foundation
import RunbookApp
import RunbookCore
import RunbookExecutor
import RunbookModel

/// `runbook resume RUN`: a failed, cancelled or interrupted run started again from its first
/// step that did not succeed, as a new run linked to it.
struct ResumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume",
        abstract: "Run a failed, cancelled or interrupted run again from its first step that did not succeed, with what the steps before it gave.",
        discussion: """
            A new run (trigger resume, linked to RUN in `runbook show`) with RUN's parameters; the steps that succeeded are not run again, \
            and the steps after them see their recorded outputs. A step that was acting when its process stopped (a kill or a crash) may \
            already have acted: it is named, and it runs again only with --confirm. Exit codes: 0 succeeded, 1 failed, 2 refused, 130 cancelled.
            """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The run's id (see `runbook history`).")
    var run: Int64

    @Option(name: .customLong("param"), help: ArgumentHelp("A parameter to give anew, as NAME=VALUE (a secret one must be); repeat for more.", valueName: "NAME=VALUE"))
    var params: [String] = []

    @Flag(help: "Run again a step that was acting when its process stopped, and confirm a runbook that requires it.")
    var confirm = false

    func run() async throws {
        let assembly = Assembly(config: try global.engineConfig())
        let library = assembly.library()
        let records = try await assembly.records()
        guard let old = try await records.runs.run(id: run) else {
            Console.error("error: no run \(run) in the records: `runbook history` lists them")
            throw ExitStatus.usage.code
        }
        guard ["failed", "cancelled", "interrupted"].contains(old.status) else {
            Console.error("error: run \(run) is \(old.status): only a failed, cancelled or interrupted run is resumed")
            throw ExitStatus.usage.code
        }
        let runbook: Runbook
        do {
            runbook = try library.resolve(old.runbook)
        } catch {
            Console.lookupFailed(error)
            throw ExitStatus.usage.code
        }
        if runbook.contentHash != old.contentHash {
            Console.error("warning: runbook '\(runbook.name)' changed since run \(run); its steps are matched by id")
        }
        // Once: a second resume of the same run would do again what the first did.
        if let earlier = try await records.runs.runs(RunFilter(trigger: Trigger.resume.rawValue, source: "run \(run)", limit: 1)).first {
            Console.error("error: run \(run) was resumed already, by run \(earlier.id) (\(earlier.status)): resume that one instead")
            throw ExitStatus.usage.code
        }
        let point: ResumePoint
        do {
            point = try ResumePoint.of(old, attempts: try await records.runs.attempts(runID: run), runbook: runbook, confirmed: confirm)
        } catch let refusal as ResumeRefusal {
            Console.error("error: \(refusal.description)")
            throw ExitStatus.usage.code
        }
        let values: [String: Value]
        do {
            var given = old.parameters
            let anew = try ParamBinding.parse(params)
            for (name, value) in anew { given[name] = value }
            // A secret was recorded masked, alone or inside another value: it must be given again.
            if let masked = runbook.params.first(where: { given[$0.name]?.contains(Secrets.mask) == true && anew[$0.name] == nil }) {
                Console.error("error: parameter '\(masked.name)' of run \(run) holds a secret, which the records keep masked: give it again with --param \(masked.name)=VALUE")
                throw ExitStatus.usage.code
            }
            values = try ParamBinding.bind(given, to: runbook)
        } catch let failure as ParamBinding.Failure {
            Console.error("error: \(failure.description)")
            throw ExitStatus.usage.code
        }
        if runbook.requiresConfirmation, !confirm {
            Console.error("error: runbook '\(runbook.name)' requires a person's confirmation (it acts on the whole engine): resume with --confirm")
            throw ExitStatus.usage.code
        }
        let step = runbook.steps[point.startIndex]
        Console.out("resuming run \(run) of \(runbook.name) from step '\(step.id)' (\(point.startIndex) step(s) done before it)")
        let report = await RunCommand.execute(
            runbook, params: values, assembly: assembly, library: library, records: records, progress: true,
            trigger: .resume, origin: RunOrigin(source: "run \(run)"), resume: point
        )
        Console.out("run \(report.runID) (resumes run \(run)) \(report.status.rawValue)" + (report.error.map { ": \($0)" } ?? ""))
        switch report.status {
        case .succeeded: return
        case .cancelled: throw ExitStatus.cancelled.code
        default: throw ExitStatus.failed.code
        }
    }
}
