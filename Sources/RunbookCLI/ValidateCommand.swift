import ArgumentParser
import Foundation
import RunbookModel

/// `runbook validate [PATH...]`: every error of every file, each with file:line:column.
struct ValidateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check runbook files and report every error with file:line:column.",
        discussion: "Exit codes: 0 no errors, 2 errors found."
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "Files or folders to check (default: the runbooks folder).")
    var paths: [String] = []

    @Flag(help: "Print the errors as JSON.")
    var json = false

    func run() async throws {
        let engine = Engine(config: try global.engineConfig())
        let targets = paths.isEmpty ? [engine.config.runbooksDirectory] : paths
        let library = RunbookLibrary.load(paths: targets, loader: engine.loader)
        let files = RunbookLibrary.yamlFiles(in: targets)
        let diagnostics = library.diagnostics.sorted { ($0.location.file, $0.location.line, $0.location.column) < ($1.location.file, $1.location.line, $1.location.column) }
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
}
