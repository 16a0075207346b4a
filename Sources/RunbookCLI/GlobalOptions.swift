import ArgumentParser
import Foundation
import RunbookApp
import RunbookModel

/// Options every subcommand takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "Configuration file (default: $RUNBOOK_CONFIG, or ./runbook.yaml when present).")
    var config: String?

    @Option(name: .long, help: "Records database (overrides the configuration).")
    var database: String?

    @Option(name: .long, help: "Folder of runbooks (overrides the configuration).")
    var runbooks: String?

    /// The configuration with command-line overrides; prints errors and exits 2 when it is invalid.
    func engineConfig() throws -> EngineConfig {
        var config: EngineConfig
        do {
            config = try EngineConfig.load(path: self.config, channels: Catalog.channels)
        } catch {
            Console.error(error.description)
            throw ExitStatus.usage.code
        }
        if let database { config.database = database }
        if let runbooks { config.runbooksDirectory = runbooks }
        return config
    }
}

/// Writing to the terminal. A closed pipe or a full disk loses the line, never the process.
enum Console {
    static func out(_ text: String) {
        try? FileHandle.standardOutput.write(contentsOf: Data((text + "\n").utf8))
    }

    static func error(_ text: String) {
        try? FileHandle.standardError.write(contentsOf: Data((text + "\n").utf8))
    }

    /// Why a runbook could not be had: its problems (each with file:line:column), or that no
    /// runbook has the name.
    static func lookupFailed(_ failure: any Error) {
        error(failure is RunbookLibrary.NotFound ? "error: \(failure)" : "\(failure)")
    }

    static var isTerminal: Bool { isatty(STDOUT_FILENO) == 1 }

    /// Pretty, key-sorted JSON for `--json`.
    static func json(_ object: Any) {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        out(String(decoding: data, as: UTF8.self))
    }
}
