import ArgumentParser
import Foundation
import RunbookApp
import RunbookExecutor
import RunbookModel
import RunbookScheduler
import RunbookSQLite

/// `runbook schedule list`: every schedule, its runbook, its next fire and its last run.
struct ScheduleListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List the schedules: runbook, when, next fire (in the schedule's zone and UTC), last run.",
        discussion: "A runbook shown as missing is not in the runbooks folder (or has errors): its fires do not run."
    )

    @OptionGroup var global: GlobalOptions

    @Flag(help: "Print the list as JSON.")
    var json = false

    func run() async throws {
        let assembly = Assembly(config: try global.engineConfig())
        let schedules = assembly.schedules()
        let library = assembly.library()
        let records = try await assembly.existingRecords()
        let now = Date()
        var rows: [Row] = []
        for schedule in schedules.sorted {
            rows.append(Row(
                schedule: schedule, runbook: Self.runbookState(schedule.runbook, in: library),
                params: schedule.shownParams(in: library),
                next: FireTimes(schedule, market: assembly.config.market).upcoming(after: now, count: 3),
                lastRun: try await records?.runs.runs(RunFilter(trigger: "schedule", source: schedule.name, limit: 1)).first
            ))
        }
        let broken = Set(schedules.diagnostics.map(\.location.file)).sorted()
        if json {
            Console.json(["schedules": rows.map(\.json), "invalid_files": broken])
            return
        }
        if rows.isEmpty { Console.out("no schedules in \(assembly.config.schedulesDirectory)") }
        if !rows.isEmpty {
            Table.print(header: ["SCHEDULE", "RUNBOOK", "WHEN", "NEXT", "NEXT (UTC)", "LAST RUN"], rows: rows.map(\.columns))
        }
        if !broken.isEmpty {
            Console.error("\(broken.count) file(s) have errors and are not listed: run `runbook validate` to see them")
        }
    }

    /// `ok`, `missing` or `invalid`.
    static func runbookState(_ name: String, in library: RunbookLibrary) -> String {
        do {
            _ = try library.resolve(name)
            return "ok"
        } catch is ValidationFailure {
            return "invalid"
        } catch {
            return "missing"
        }
    }

    struct Row {
        var schedule: Schedule
        var runbook: String
        /// As written, secrets of the runbook as `***`.
        var params: [String: String]
        var next: [Date]
        var lastRun: RunRecord?

        var columns: [String] {
            let zone = schedule.timeZone
            return [
                schedule.name, schedule.runbook + (runbook == "ok" ? "" : " (\(runbook))"), schedule.whenText,
                next.first.map { Timestamp.text($0, in: zone) } ?? "never", next.first.map { Timestamp.text($0, in: TimeZone(identifier: "UTC")!) } ?? "-",
                lastRun.map { "\($0.id) \($0.status) \(Timestamp.text($0.startedAt))" } ?? "-",
            ]
        }

        var json: [String: Any] {
            var object: [String: Any] = [
                "name": schedule.name, "description": schedule.description, "file": schedule.file, "runbook": schedule.runbook,
                "runbook_state": runbook, "params": params, "when": schedule.whenText, "time_zone": schedule.timeZone.name,
                "during_market": schedule.duringMarket, "catch_up": schedule.catchUp.rawValue,
                "catch_up_window": DurationText.format(schedule.catchUpWindow), "overlap": schedule.overlap.rawValue,
                "jitter": DurationText.format(schedule.jitter), "next": next.map { Timestamp.fire($0, in: schedule.timeZone) },
                "last_run": lastRun.map(RunJSON.object) as Any? ?? NSNull(),
            ]
            switch schedule.timing {
            case .cron(let cron, _): object["cron"] = cron.text
            case .every(let interval): object["every"] = DurationText.format(interval)
            case .market(let time): object["market"] = ["market": "forex", "anchor": time.anchor.rawValue, "offset": DurationText.format(time.offset)]
            }
            return object
        }
    }
}
