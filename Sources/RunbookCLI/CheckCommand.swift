import ArgumentParser
import Foundation
import RunbookApp
import RunbookChecks
import RunbookModel

/// `runbook check [NAME] [--json]`: evaluates the checks once, like a monitoring plugin.
struct CheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Evaluate the health checks once and print check, status, value, threshold and since.",
        discussion: """
            Exit codes as monitoring plugins use them (Nagios, Icinga): 0 OK, 1 warning, 2 critical, 3 unknown. \
            With several checks the worst decides: critical, then warning, then unknown.
            """
    )

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The check to evaluate (default: every check).")
    var name: String?

    @Flag(help: "Print the results as JSON.")
    var json = false

    func run() async throws {
        // Whatever keeps the checks from running is UNKNOWN to a monitoring system.
        let assembly: Assembly
        do {
            assembly = Assembly(config: try global.engineConfig())
        } catch {
            throw ExitCode(3)
        }
        let all: [Check]
        do {
            all = try CheckLoader(probes: Catalog.probes).loadAll(paths: [assembly.config.checksDirectory])
        } catch {
            error.diagnostics.forEach { Console.error($0.description) }
            throw ExitCode(3)
        }
        var checks = all
        if let name {
            checks = all.filter { $0.name == name }
            if checks.isEmpty {
                Console.error("UNKNOWN: no check named '\(name)'\(Suggestion.hint(for: name, in: all.map(\.name))); checks: \(all.map(\.name).joined(separator: ", "))")
                throw ExitCode(3)
            }
        }
        let records = try? await assembly.existingRecords()
        let evaluator = CheckEvaluator(probes: Catalog.probes, environment: assembly.checkServices(records: records))
        let results = await evaluator.evaluate(all: checks)
        let since = Self.since(from: assembly.healthFile, results: results)

        if json {
            Console.json(results.map { result -> [String: Any] in
                [
                    "check": result.check, "status": result.status.rawValue, "value": result.value.flatMap { $0.isFinite ? $0 : nil } as Any? ?? NSNull(),
                    "text": result.text, "subject": result.subject as Any? ?? NSNull(), "threshold": result.threshold,
                    "since": since[result.check].map(Timestamp.text) as Any? ?? NSNull(),
                ]
            })
        } else if let result = results.first, name != nil {
            // One line, as a monitoring plugin prints it.
            let perf = result.value.flatMap { $0.isFinite ? " | value=\(Self.number($0))" : nil } ?? ""
            let subject = result.subject.map { " [\($0)]" } ?? ""
            Console.out("\(result.check) \(Self.pluginWord(result.status)): \(result.text)\(subject) (\(result.threshold))\(perf)")
        } else {
            Table.print(header: ["CHECK", "STATUS", "VALUE", "THRESHOLD", "SINCE"], rows: results.map { result in
                [result.check, result.status.rawValue, result.text, result.threshold, since[result.check].map(Timestamp.text) ?? "-"]
            })
            let counts = Dictionary(grouping: results, by: \.status).mapValues(\.count)
            Console.out(CheckStatus.allCases.compactMap { status in counts[status].map { "\($0) \(status.rawValue)" } }.joined(separator: ", "))
        }
        let code = Self.exitCode(results.map(\.status))
        if code != 0 { throw ExitCode(code) }
    }

    /// Critical, then warning, then unknown, then OK.
    static func exitCode(_ statuses: [CheckStatus]) -> Int32 {
        for status in [CheckStatus.critical, .warning, .unknown] where statuses.contains(status) { return status.pluginExitCode }
        return 0
    }

    static func pluginWord(_ status: CheckStatus) -> String {
        switch status {
        case .healthy, .idle: "OK"
        case .warning: "WARNING"
        case .critical: "CRITICAL"
        case .unknown: "UNKNOWN"
        }
    }

    static func number(_ value: Double) -> String {
        Int64(exactly: value).map(String.init) ?? String(format: "%.3f", value)
    }

    /// Since when each check has had the status found now, from the running guardian's health
    /// file when it is recent and agrees.
    static func since(from file: String, results: [CheckResult]) -> [String: Date] {
        guard let data = FileManager.default.contents(atPath: file),
              let report = try? HealthReport.decoder.decode(HealthReport.self, from: data),
              Date().timeIntervalSince(report.updatedAt) < 120
        else { return [:] }
        var since: [String: Date] = [:]
        for result in results {
            if let item = report.checks.first(where: { $0.name == result.check }), item.status == result.status, let date = item.since {
                since[result.check] = date
            }
        }
        return since
    }
}
