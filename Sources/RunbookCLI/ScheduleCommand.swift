import ArgumentParser
import Foundation
import RunbookApp
import RunbookModel

/// `runbook schedule`: the schedules and their fire times.
struct ScheduleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schedule",
        abstract: "List the schedules, or compute the next fire times of a schedule or cron expression.",
        subcommands: [ScheduleListCommand.self, ScheduleNextCommand.self]
    )
}

extension Timestamp {
    /// ISO 8601 with the offset `zone` has at `date`, to the second: `2026-03-08T03:00:00-04:00`.
    static func text(_ date: Date, in zone: TimeZone) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = zone
        return formatter.string(from: date)
    }

    /// A fire time in the schedule's zone and in UTC, for `--json`.
    static func fire(_ date: Date, in zone: TimeZone) -> [String: Any] {
        ["at": text(date, in: zone), "utc": text(date, in: TimeZone(identifier: "UTC")!)]
    }
}
