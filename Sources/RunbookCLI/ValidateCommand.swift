import ArgumentParser
import Foundation
import RunbookModel

/// `runbook validate [PATH...]`: every error of every file, each with file:line:column.
struct ValidateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check runbook and check files and report every error with file:line:column.",
        discussion: "Exit codes: 0 no errors, 2 errors found."
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Files or folders to check (default: the runbooks and checks folders). A file with a `probe:` key is read as a check.")
    var paths: [String] = []

    @Flag(help: "Print the errors as JSON.")
    var json = false

    func run() async throws {
        let engine = Engine(config: try global.engineConfig())
        let targets = paths.isEmpty ? [engine.config.runbooksDirectory, engine.config.checksDirectory] : paths
        let files = RunbookLibrary.yamlFiles(in: targets).filter { paths.contains($0) || FileManager.default.fileExists(atPath: $0) }
        let checkFiles = files.filter(Self.isCheck)
        let library = RunbookLibrary.load(paths: files.filter { !checkFiles.contains($0) }, loader: engine.loader)
        var diagnostics = library.diagnostics
        // Checks are read on their own, and the runbooks they start must exist.
        let known = paths.isEmpty ? library : engine.library()
        do {
            let checks = try CheckLoader(probes: Engine.probes).loadAll(paths: checkFiles)
            for check in checks {
                for action in [check.onCritical, check.onWarning].compactMap({ $0 }) where known.runbooks[action.runbook] == nil {
                    diagnostics.append(.reading(action.location, "unknown runbook '\(action.runbook)'\(Suggestion.hint(for: action.runbook, in: known.runbooks.keys)); runbooks here: \(known.runbooks.keys.sorted().joined(separator: ", "))"))
                }
            }
        } catch {
            diagnostics += error.diagnostics
        }
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

    /// Whether a file is a check: it has a top-level `probe:` key.
    static func isCheck(_ file: String) -> Bool {
        guard let data = FileManager.default.contents(atPath: file) else { return false }
        return String(decoding: data, as: UTF8.self).split(separator: "\n").contains { $0.hasPrefix("probe:") }
    }
}
