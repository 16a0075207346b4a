import ArgumentParser
import Foundation
import RunbookApp
import RunbookModel

/// `runbook validate [PATH...]`: every error of every file, each with file:line:column.
struct ValidateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check runbook, check and schedule files and report every error with file:line:column.",
        discussion: "Exit codes: 0 no errors, 2 errors found."
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Files or folders to check (default: the runbooks, checks and schedules folders). A file with a `probe:` key is read as a check; those in the schedules folder as schedules.")
    var paths: [String] = []

    @Flag(help: "Print the errors as JSON.")
    var json = false

    func run() async throws {
        let assembly = Assembly(config: try global.engineConfig())
        let schedulesFolder = URL(fileURLWithPath: assembly.config.schedulesDirectory).standardizedFileURL.path
        let isSchedule = { (path: String) in
            let full = URL(fileURLWithPath: path).standardizedFileURL.path
            return full == schedulesFolder || full.hasPrefix(schedulesFolder + "/")
        }
        let targets = paths.isEmpty ? [assembly.config.runbooksDirectory, assembly.config.checksDirectory] : paths.filter { !isSchedule($0) }
        let scheduleTargets = paths.isEmpty ? [assembly.config.schedulesDirectory] : paths.filter(isSchedule)
        let documents = RunbookLibrary.yamlFiles(in: targets).filter { paths.contains($0) || FileManager.default.fileExists(atPath: $0) }
        let checkFiles = documents.filter(Self.isCheck)
        let library = RunbookLibrary.load(paths: documents.filter { !checkFiles.contains($0) }, loader: assembly.loader)
        let schedules = ScheduleLibrary.load(paths: scheduleTargets)
        // Checks and schedules are read on their own; the runbooks they start must exist, and
        // schedules' parameters are checked against the runbooks folder, whichever files were named.
        let known = paths.isEmpty ? library : assembly.library()
        var diagnostics = library.diagnostics + schedules.diagnostics + schedules.problems(against: known)
        do {
            diagnostics += CheckLoader.problems(of: try CheckLoader(probes: Catalog.probes).loadAll(paths: checkFiles), against: known)
        } catch {
            diagnostics += error.diagnostics
        }
        let files = documents + RunbookLibrary.yamlFiles(in: scheduleTargets.filter { FileManager.default.fileExists(atPath: $0) })
        diagnostics = diagnostics.sorted { ($0.location.file, $0.location.line, $0.location.column) < ($1.location.file, $1.location.line, $1.location.column) }
        if json {
            Console.json([
                "files": files.count, "valid": diagnostics.isEmpty,
                "errors": diagnostics.map { ["file": $0.location.file, "line": $0.location.line, "column": $0.location.column, "message": $0.message] as [String: Any] },
            ])
        } else {
            diagnostics.forEach { Console.error($0.description) }
            if diagnostics.isEmpty {
                Console.out("\(files.count) file(s) checked, no errors")
            } else {
                let broken = Set(diagnostics.map(\.location.file)).count
                Console.error("\(diagnostics.count) error(s) in \(broken) of \(files.count) file(s)")
            }
        }
        if !diagnostics.isEmpty { throw ExitStatus.usage.code }
    }

    /// Whether a file is a check: it has a top-level `probe:` key. A file that cannot be read
    /// within the limits is not; reading it as a runbook reports why.
    static func isCheck(_ file: String) -> Bool {
        guard let text = try? YAMLFile.read(file, unreadable: "") else { return false }
        return text.split(separator: "\n").contains { $0.hasPrefix("probe:") }
    }
}
