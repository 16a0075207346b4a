import Foundation
@testable import RunbookModel
import RunbookSimulator
import Testing

/// The command-line reference says what the program accepts, no more and no less: every option of
/// every subcommand, every configuration key and every simulator fault.
@Suite struct ReferenceTests {
    static let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Docs")

    static func text(_ name: String) throws -> String {
        try String(contentsOf: docs.appendingPathComponent(name), encoding: .utf8)
    }

    /// Each subcommand with its long options, as the program itself describes them.
    static func commands() throws -> [String: Set<String>] {
        let cli = try CLIHarness()
        defer { cli.remove() }
        let dump = try cli.run("--experimental-dump-help")
        let root = try #require((try JSONSerialization.jsonObject(with: Data(dump.stdout.utf8)) as? [String: Any])?["command"] as? [String: Any])
        var found: [String: Set<String>] = [:]
        func walk(_ command: [String: Any], _ path: [String]) {
            let arguments = command["arguments"] as? [[String: Any]] ?? []
            let names = arguments.flatMap { $0["names"] as? [[String: Any]] ?? [] }.filter { $0["kind"] as? String == "long" }.compactMap { $0["name"] as? String }
            let subcommands = command["subcommands"] as? [[String: Any]] ?? []
            if subcommands.isEmpty { found[path.joined(separator: " ")] = Set(names).subtracting(["help"]) }
            for sub in subcommands where sub["commandName"] as? String != "help" { walk(sub, path + [sub["commandName"] as? String ?? "?"]) }
        }
        walk(root, ["runbook"])
        return found
    }

    /// The synopsis at the top of cli.md: each command line with the options it shows.
    static func synopsis() throws -> [String: Set<String>] {
        let text = try Self.text("cli.md")
        let block = text.components(separatedBy: "```text\n")[1].components(separatedBy: "```")[0]
        var lines: [String: Set<String>] = [:]
        var current = ""
        for line in block.split(separator: "\n") {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("runbook ") {
                let words = trimmed.split(separator: " ").map(String.init)
                let command = words.prefix { !$0.hasPrefix("-") && !$0.hasPrefix("[") && $0 == $0.lowercased() && !$0.contains("|") }
                current = command.joined(separator: " ")
            }
            let options = trimmed.matches(of: /--([a-z][a-z-]*)/).map { String($0.1) }
            lines[current, default: []].formUnion(options)
        }
        return lines
    }

    @Test func everyOptionOfEveryCommandIsInTheSynopsisAndNoOther() throws {
        let shared: Set<String> = ["config", "database", "runbooks"]
        let accepted = try Self.commands()
        let documented = try Self.synopsis()
        for (command, options) in accepted.sorted(by: { $0.key < $1.key }) {
            // Commands that take an argument name it in the synopsis (`runbook show RUN`).
            let line = documented.first { command == $0.key || $0.key.hasPrefix(command + " ") }
            #expect(line != nil, "\(command) is not in the synopsis of Docs/cli.md")
            let shown = line?.value ?? []
            #expect(options.subtracting(shared).subtracting(shown).isEmpty, "\(command) takes \(options.subtracting(shared).subtracting(shown).sorted()) that Docs/cli.md does not show")
            #expect(shown.subtracting(options).isEmpty, "Docs/cli.md shows \(shown.subtracting(options).sorted()) for \(command), which it does not take")
        }
        for command in documented.keys where !command.isEmpty {
            #expect(accepted.keys.contains { $0 == command || command.hasPrefix($0 + " ") }, "Docs/cli.md shows \(command), which is not a command")
        }
        let sharedText = try Self.text("cli.md").components(separatedBy: "## Shared options")[1].components(separatedBy: "\n## ")[0]
        for option in shared { #expect(sharedText.contains("`--\(option)"), "--\(option) is not under Shared options") }
    }

    @Test func everyConfigurationKeyIsDocumentedAndEveryDocumentedKeyAccepted() throws {
        let cli = try Self.text("cli.md")
        let table = cli.components(separatedBy: "## Configuration")[1].components(separatedBy: "\n## ")[0]
        let reference = try ["cli.md", "http.md", "escalation.md", "security.md", "notifications.md", "tick-storage.md"].map(Self.text).joined()
        let nested = [FlowEndpoints.keys, ProcessSettings.keys, RestartSettings.keys, HTTPSettings.keys, TickSettings.keys, StoreSettings.keys, EscalationPolicy.keys, FlowSecurity.keys]
        for key in EngineConfig.keys { #expect(table.contains("| `\(key)` |"), "\(key) has no row in the configuration table of Docs/cli.md") }
        for key in nested.joined() {
            // The key itself, not a longer word that starts with it (`fallback_after` is not `fallback`).
            let mentioned = reference.contains("`\(key)`") || reference.contains("`\(key):") || reference.contains("`\(key).")
            #expect(mentioned, "configuration key \(key) is in no reference page")
        }
        let rows = table.matches(of: /\n\| `([a-z_]+)` \|/).map { String($0.1) }
        #expect(!rows.isEmpty)
        for row in rows { #expect(EngineConfig.keys.contains(row), "Docs/cli.md documents a key '\(row)' the configuration does not take") }
    }

    @Test func everySimulatorFaultIsInTheTableAndEveryRowIsAFault() throws {
        let section = try Self.text("cli.md").components(separatedBy: "## sim ea, sim signals")[1].components(separatedBy: "\n## ")[0]
        let rows = section.matches(of: /\n\| `([a-z=0-9-]+)` \|/).map { String($0.1) }
        for row in rows { #expect(EASimulator.Fault(row) != nil, "the fault table shows '\(row)', which sim ea refuses") }
        for form in EASimulator.Fault.forms {
            let name = form.split(separator: "=")[0]
            #expect(rows.contains { $0.split(separator: "=")[0] == name }, "fault \(name) is not in the table of Docs/cli.md")
        }
    }
}
