import ArgumentParser
import Foundation
import RunbookApp
import RunbookCore

/// `runbook gate`: the kill switch on the command router. `close --reason` stops every fire
/// from reaching an EA (each fails with the reason); `open` lets them through again.
struct GateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gate", abstract: "Show, close or open the kill switch on the command router (closed: fires fail with the reason and reach no EA).",
        subcommands: [GateStatusCommand.self, GateCloseCommand.self, GateOpenCommand.self], defaultSubcommand: GateStatusCommand.self
    )
}

struct GateStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Say whether the gate is open or closed, by whom and why, with its last changes.")

    @OptionGroup var global: GlobalOptions

    @Flag(help: "Print the gate and its changes as JSON.")
    var json = false

    func run() async throws {
        let assembly = Assembly(config: try global.engineConfig())
        let changes: [GateChange]
        do {
            let records = try await assembly.records()
            defer { records.close() }
            changes = try await records.flows.gateChanges(limit: 10)
        } catch {
            Console.error("error: cannot read the gate from the records: \(error)")
            throw ExitCode(3)
        }
        if json {
            Console.json([
                "closed": changes.first?.closed ?? false,
                "changes": changes.map { change -> [String: Any] in
                    ["closed": change.closed, "reason": change.reason, "by": change.by, "via": change.via, "at": Timestamp.text(change.at)]
                },
            ])
            if changes.first?.closed == true { throw ExitCode(1) }
            return
        }
        guard let current = changes.first else {
            Console.out("the gate is open: it was never closed")
            return
        }
        Console.out("the gate is \(current.text)")
        if changes.count > 1 {
            Table.print(
                header: ["AT", "GATE", "BY", "VIA", "REASON"],
                rows: changes.map { [Timestamp.text($0.at), $0.closed ? "closed" : "open", $0.by, $0.via, $0.reason] }
            )
        }
        if current.closed { throw ExitCode(1) }
    }
}

struct GateCloseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "close", abstract: "Close the gate: from now on every fire from the queue fails with the reason and reaches no EA; test probes still pass."
    )

    @OptionGroup var global: GlobalOptions

    @Option(help: "Why: every failed fire carries it (`gate closed: REASON`).")
    var reason: String

    @Option(help: "Who closes it (default: the login name).")
    var by: String?

    func run() async throws {
        try await GateCloseCommand.change(global, closed: true, reason: reason, by: by)
    }

    static func change(_ global: GlobalOptions, closed: Bool, reason: String, by: String?) async throws {
        let assembly = Assembly(config: try global.engineConfig())
        let records = try await assembly.records()
        defer { records.close() }
        do {
            let change = try await assembly.gateKeeper(records: records).change(closed: closed, reason: reason, by: Assembly.person(by), via: "cli")
            Console.out("the gate is \(change.text)")
        } catch let refused as GateRefused {
            Console.error("error: \(refused)")
            throw ExitStatus.usage.code
        } catch {
            Console.error("error: the gate was not \(closed ? "closed" : "opened"): \(error)")
            throw ExitStatus.failed.code
        }
    }
}

struct GateOpenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "open", abstract: "Open the gate: fires reach the EAs again.")

    @OptionGroup var global: GlobalOptions

    @Option(help: "Why, for the record.")
    var reason: String = ""

    @Option(help: "Who opens it (default: the login name).")
    var by: String?

    func run() async throws {
        try await GateCloseCommand.change(global, closed: false, reason: reason, by: by)
    }
}
