import ArgumentParser
import Foundation
import RunbookApp
import RunbookModel
import RunbookScheduler

/// `runbook schedule next CRON_OR_NAME`: the next fire instants of a cron expression or a schedule.
struct ScheduleNextCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "next",
        abstract: "Print the next fire instants of a cron expression or a schedule, as ISO 8601 with the zone's offset.",
        discussion: """
            A cron expression has five fields and is read in --tz (default UTC): runbook schedule next "30 2 * * *" --tz Europe/London. \
            A schedule is named as in `runbook schedule list` and uses its own zone. Exit codes: 0 printed, 2 usage error.
            """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: ArgumentHelp("A cron expression (quote it) or a schedule's name.", valueName: "CRON_OR_NAME"))
    var target: String

    @Option(name: .customLong("tz"), help: "The IANA time zone a cron expression is read in (default UTC).")
    var timeZone: String?

    @Option(help: "Start after this instant, ISO 8601 (default now), such as 2026-03-08T01:30:00-05:00.")
    var from: String?

    @Option(help: "How many fire instants (1 to 1000).")
    var count = 5

    @Flag(help: "Print the fire instants as JSON.")
    var json = false

    /// Whether the argument is an expression rather than a name: names have no spaces or `@`.
    var isExpression: Bool { target.contains(" ") || target.contains("\t") || target.hasPrefix("@") }

    func validate() throws {
        if !(1...1000).contains(count) { throw ValidationError("--count must be from 1 to 1000") }
        if let from, TimeArgument.parse(from) == nil {
            throw ValidationError("--from '\(from)' is not an ISO 8601 instant such as 2026-03-08T01:30:00-05:00 or 2026-03-08T06:30:00Z")
        }
        if let timeZone, TimeZone(identifier: timeZone) == nil {
            throw ValidationError("--tz '\(timeZone)' is not a time zone: write an IANA name such as UTC, Europe/London or America/New_York")
        }
    }

    func run() async throws {
        let assembly = Assembly(config: try global.engineConfig())
        let start = from.flatMap(TimeArgument.parse).map { Date(timeIntervalSince1970: Double($0) / 1000) } ?? Date()
        let times: FireTimes
        let zone: TimeZone
        var described: [String: Any]
        if isExpression {
            let cron: CronExpression
            do {
                cron = try CronExpression.parse(target)
            } catch {
                Console.error("error: \(error.message)\n  \(target)\n  \(String(repeating: " ", count: error.offset))^")
                throw ExitStatus.usage.code
            }
            zone = timeZone.flatMap(TimeZone.init(identifier:)) ?? TimeZone(identifier: "UTC")!
            times = FireTimes(timing: .cron(cron, zone))
            described = ["cron": cron.text]
        } else {
            let schedules = assembly.schedules()
            guard let schedule = schedules.schedules[target] else {
                let problems = schedules.diagnostics.filter { URL(fileURLWithPath: $0.location.file).deletingPathExtension().lastPathComponent == target }
                problems.forEach { Console.error($0.description) }
                if problems.isEmpty {
                    let hint = Suggestion.hint(for: target, in: schedules.schedules.keys)
                    Console.error("error: no schedule named '\(target)'\(hint) in \(assembly.config.schedulesDirectory); a cron expression has five fields, such as \"0 * * * *\"")
                }
                throw ExitStatus.usage.code
            }
            if let timeZone {
                Console.error("error: --tz \(timeZone) is for a cron expression; schedule '\(target)' has its zone, \(schedule.timeZone.name)")
                throw ExitStatus.usage.code
            }
            zone = schedule.timeZone
            times = FireTimes(schedule, market: assembly.config.market)
            described = ["schedule": schedule.name, "when": schedule.whenText]
        }
        let fires = times.upcoming(after: start, count: count)
        if json {
            described["time_zone"] = zone.name
            described["from"] = Timestamp.text(start, in: zone)
            described["fires"] = fires.map { Timestamp.fire($0, in: zone) }
            Console.json(described)
            return
        }
        fires.forEach { Console.out(Timestamp.text($0, in: zone)) }
    }
}
