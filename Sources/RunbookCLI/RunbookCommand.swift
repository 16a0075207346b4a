import ArgumentParser
import Foundation
import Logging
import RunbookApp

/// `runbook`: runs and reviews the runbooks of a trading back end.
public struct RunbookCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "runbook",
        abstract: "Run, validate and review operations runbooks.",
        discussion: """
            Exit codes: 0 succeeded, 1 the run failed or was interrupted, 2 usage or validation error, \
            130 the run was cancelled (Ctrl-C or SIGTERM).
            """,
        subcommands: [
            UpCommand.self, RunCommand.self, ListCommand.self, ValidateCommand.self, HistoryCommand.self, ShowCommand.self,
            ScheduleCommand.self, FlowsCommand.self, FireCommand.self, SimCommand.self, TicksCommand.self, BarsCommand.self, StoreCommand.self,
            CheckCommand.self, IncidentsCommand.self, IncidentCommand.self, AckCommand.self, ResolveCommand.self, SilenceCommand.self, SilencesCommand.self, OutboxCommand.self,
            ResetCommand.self, KeysCommand.self, FleetCommand.self, GateCommand.self, ResumeCommand.self, ApproveCommand.self,
        ]
    )

    public init() {}

    /// Parses the command line and runs the command, mapping usage errors to exit code 2.
    public static func start(arguments: [String]? = nil) async {
        SignalCancellation.unblockStopSignals()
        let environment = ProcessInfo.processInfo.environment
        if let level = Logger.Level(rawValue: environment["RUNBOOK_LOG_LEVEL"] ?? environment["LOG_LEVEL"] ?? "") {
            RunbookLogHandler.level.store(level.index, ordering: .relaxed)
        }
        switch environment["RUNBOOK_LOG_FORMAT"] {
        case "json": RunbookLogHandler.format.store(RunbookLogHandler.Format.json.rawValue, ordering: .relaxed)
        case "message": RunbookLogHandler.format.store(RunbookLogHandler.Format.message.rawValue, ordering: .relaxed)
        default: break
        }
        LoggingSystem.bootstrap { RunbookLogHandler(label: $0) }
        do {
            var command = try parseAsRoot(arguments)
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let failure as AssemblyError {
            // Checks with problems are a validation error (2); records that cannot be opened a failure (1).
            try? FileHandle.standardError.write(contentsOf: Data((failure.description + "\n").utf8))
            if case .invalidChecks = failure { Foundation.exit(ExitStatus.usage.rawValue) }
            Foundation.exit(ExitStatus.failed.rawValue)
        } catch {
            let code = exitCode(for: error)
            if code.rawValue == 64 {
                try? FileHandle.standardError.write(contentsOf: Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(ExitStatus.usage.rawValue)
            }
            exit(withError: error)
        }
    }
}

/// What the exit status says.
enum ExitStatus: Int32 {
    case succeeded = 0
    case failed = 1
    case usage = 2
    case cancelled = 130

    var code: ExitCode { ExitCode(rawValue) }
}
