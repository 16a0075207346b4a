import ArgumentParser
import Foundation
import RunbookApp
import RunbookModel

/// `runbook list`: the runbooks that can be run, with their parameters.
struct ListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the runbooks and their parameters.")

    @OptionGroup var global: GlobalOptions

    @Flag(help: "Print the list as JSON.")
    var json = false

    func run() async throws {
        let assembly = Assembly(config: try global.engineConfig())
        let library = assembly.library()
        let runbooks = library.runbooks.values.sorted { $0.name < $1.name }
        if json {
            Console.json([
                "runbooks": runbooks.map { runbook in
                    [
                        "name": runbook.name, "description": runbook.description, "file": runbook.file, "steps": runbook.steps.count,
                        "params": runbook.params.map { param in
                            [
                                "name": param.name, "type": param.type.rawValue, "secret": param.secret, "description": param.description,
                                "default": param.secret ? "***" : param.defaultValue?.text as Any? ?? NSNull(),
                            ] as [String: Any]
                        },
                    ] as [String: Any]
                },
                "invalid_files": Array(Set(library.diagnostics.map(\.location.file))).sorted(),
            ])
            return
        }
        let width = runbooks.map(\.name.count).max() ?? 0
        for runbook in runbooks {
            Console.out(runbook.name.padding(toLength: width + 2, withPad: " ", startingAt: 0) + runbook.description)
            for param in runbook.params {
                let fallback = param.defaultValue.map { " = \(param.secret ? "***" : $0.text)" } ?? " (required)"
                let about = param.description.isEmpty ? "" : "  \(param.description)"
                Console.out(String(repeating: " ", count: width + 4) + "--param \(param.name)=\(param.type.rawValue)\(fallback)\(about)")
            }
        }
        if runbooks.isEmpty { Console.out("no runbooks in \(assembly.config.runbooksDirectory)") }
        let broken = Set(library.diagnostics.map(\.location.file))
        if !broken.isEmpty {
            Console.error("\(broken.count) file(s) have errors and are not listed: run `runbook validate` to see them")
        }
    }
}
