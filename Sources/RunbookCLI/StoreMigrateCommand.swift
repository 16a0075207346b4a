import ArgumentParser
import Foundation
import RunbookApp
import RunbookModel
import RunbookStore

extension StoreCommand {
    struct Migrate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "migrate",
            abstract: "Copy the SQLite tick store into PostgreSQL (resumable), then compare the two per symbol."
        )

        @OptionGroup var global: GlobalOptions
        @Option(help: "The store to copy into: postgresql.") var to: String
        @Option(name: .customLong("url-env"), help: ArgumentHelp("The environment variable holding the PostgreSQL URL (default: the configuration's store.url_env, RUNBOOK_STORE_URL).", valueName: "NAME"))
        var urlEnv: String?
        @Option(help: "Ticks, or bars, per transaction.") var batch = 10_000

        func validate() throws {
            guard to == StoreSettings.Backend.postgresql.rawValue else {
                throw ValidationError("--to '\(to)' is not a store to migrate into: write --to postgresql")
            }
            guard batch > 0 else { throw ValidationError("--batch must be 1 or more") }
        }

        func run() async throws {
            let assembly = Assembly(config: try global.engineConfig())
            let migration: TickStoreMigration
            do {
                migration = try await assembly.tickStoreMigration(urlEnvironment: urlEnv, batch: batch)
            } catch {
                Console.error("error: \(error)")
                throw ExitStatus.failed.code
            }
            defer { migration.close() }
            let printer = MigrationPrinter(live: isatty(STDERR_FILENO) == 1)
            let comparisons: [TickStoreMigration.Comparison]
            do {
                try await migration.run(progress: printer.progress, finished: printer.finished)
                comparisons = try await migration.compare()
            } catch {
                printer.clear()
                Console.error("error: \(error)")
                throw ExitStatus.failed.code
            }
            Table.print(header: ["SYMBOL", "TICKS SQLITE", "TICKS POSTGRESQL", "BARS SQLITE", "BARS POSTGRESQL", ""], rows: comparisons.map {
                [$0.symbol, "\($0.source.ticks)", "\($0.target.ticks)", "\($0.source.bars)", "\($0.target.bars)", $0.matches ? "ok" : "DIFFERS"]
            })
            let differing = comparisons.filter { !$0.matches }.map(\.symbol)
            guard differing.isEmpty else {
                Console.error("error: the stores differ for \(differing.joined(separator: ", ")): the PostgreSQL store does not hold what the SQLite store holds; do not switch store.backend to it")
                throw ExitStatus.failed.code
            }
            Console.out("migrated: the PostgreSQL store holds every tick and bar of the SQLite store")
        }
    }
}

/// The migration as it goes: on a terminal, one live line on stderr with the symbol and what of
/// it is copied; otherwise nothing until each symbol's summary line.
final class MigrationPrinter: @unchecked Sendable {
    private let live: Bool
    private var shown = ContinuousClock.now - .seconds(1)

    init(live: Bool) {
        self.live = live
    }

    func progress(_ state: TickStoreMigration.Progress) {
        guard live, shown.duration(to: .now) >= .milliseconds(100) else { return }
        shown = .now
        let line = "  … \(state.symbol) (\(state.index)/\(state.symbols))  ticks \(state.ticksCopied)/\(state.total.ticks)  bars \(state.barsCopied)/\(state.total.bars)"
        try? FileHandle.standardError.write(contentsOf: Data("\r\u{1B}[2K\(line)".utf8))
    }

    func finished(_ state: TickStoreMigration.Progress) {
        clear()
        var line = "\(state.symbol): copied \(state.now.ticks) ticks (\(state.now.packed) of them in \(state.now.blocks) packed blocks) and \(state.now.bars) bars"
        if state.before != TickCounts() { line += ", after \(state.before.ticks) ticks and \(state.before.bars) bars copied by an earlier run" }
        Console.out(line)
    }

    /// Removes the live line.
    func clear() {
        if live { try? FileHandle.standardError.write(contentsOf: Data("\r\u{1B}[2K".utf8)) }
    }
}
