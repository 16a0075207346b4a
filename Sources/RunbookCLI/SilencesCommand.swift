import ArgumentParser
import Foundation
import RunbookApp
import RunbookChecks
import RunbookEscalation
import RunbookModel

/// `runbook silences`: one-off silences in force, and every maintenance window with whether it is
/// in force and when it next starts.
struct SilencesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "silences", abstract: "List the silences in force and the maintenance windows, with when each next starts."
    )

    @OptionGroup var global: GlobalOptions

    @Flag(help: "Print them as JSON.")
    var json = false

    func run() async throws {
        let assembly = Assembly(config: try global.engineConfig())
        var silences: [Silence] = []
        var windows: [MaintenanceWindowState] = []
        if try await assembly.existingRecords() != nil {
            let (desk, records) = try await assembly.desk()
            silences = try await records.incidents.silences(activeAt: Date())
            windows = try await desk.windowStates()
        }
        if json {
            let data = try HealthReport.encoder.encode(Listing(silences: silences, windows: windows))
            Console.json(try JSONSerialization.jsonObject(with: data))
            return
        }
        if silences.isEmpty {
            Console.out("no one-off silences in force")
        } else {
            Table.print(header: ["ID", "CHECK", "UNTIL (UTC)", "BY", "REASON"], rows: silences.map { silence in
                [String(silence.id), silence.check, Timestamp.text(silence.until), silence.by, silence.reason]
            })
        }
        Console.out("")
        if windows.isEmpty {
            Console.out("no maintenance windows: runbook silence CHECK|all --every CRON --for DURATION --reason WHY adds one")
            return
        }
        Table.print(header: ["WINDOW", "CHECK", "WHEN", "HOLDS RUNS", "AT END", "NOW", "REASON"], rows: windows.map { state in
            [
                String(state.window.id), state.window.target, state.window.schedule, state.window.holdRuns ? "yes" : "no", state.window.atEnd.rawValue,
                Self.when(state).joined(separator: "; "), state.window.reason,
            ]
        })
    }

    private struct Listing: Encodable {
        var silences: [Silence]
        var windows: [MaintenanceWindowState]
    }

    /// Whether the window is in force and when it next starts, in its zone and UTC.
    static func when(_ state: MaintenanceWindowState) -> [String] {
        var lines: [String] = []
        if let until = state.inForceUntil {
            lines.append("in force until \(state.local(until)) (\(Timestamp.text(until)))")
        }
        if let next = state.nextStart {
            lines.append("next starts \(state.local(next)) (\(Timestamp.text(next)))")
        } else {
            lines.append("no start within the time looked at")
        }
        return lines
    }
}
