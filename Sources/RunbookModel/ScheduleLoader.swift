import Foundation
import Yams

/// Reads schedule YAML into a `Schedule`, reporting every problem with file:line:column.
///
/// ```yaml
/// name: daily-backup
/// runbook: daily-backup
/// params: {keep: 7}
/// cron: "15 17 * * *"
/// time_zone: America/New_York
/// catch_up: latest        # none | latest | all
/// catch_up_window: 1h
/// overlap: skip           # skip | queue | replace
/// jitter: 30s
/// ```
///
/// or, relative to the market, `market: forex` with one of `before_open`, `after_open`,
/// `before_close`, `after_close`. The runbook is not looked up here: a schedule may name one that
/// is not written yet.
public enum ScheduleLoader {
    static let keys = [
        "name", "description", "runbook", "params", "cron", "every", "time_zone", "market", "before_open", "after_open", "before_close",
        "after_close", "during", "catch_up", "catch_up_window", "overlap", "jitter",
    ]

    /// Loads a schedule from YAML text; `file` names it in diagnostics.
    public static func load(text: String, file: String) throws(ValidationFailure) -> Schedule {
        let (schedule, diagnostics) = read(text: text, file: file)
        guard let schedule, diagnostics.isEmpty else { throw ValidationFailure(diagnostics) }
        return schedule
    }

    /// The schedule, when it has no problem, and every problem found.
    public static func read(text: String, file: String) -> (Schedule?, [Diagnostic]) {
        var source = YAMLSource(file: file, text: text)
        let schedule = read(&source)
        let ordered = source.diagnostics.sorted { ($0.location.line, $0.location.column) < ($1.location.line, $1.location.column) }
        return (ordered.isEmpty ? schedule : nil, ordered)
    }

    private static func read(_ source: inout YAMLSource) -> Schedule? {
        guard let root = source.compose() else {
            if source.diagnostics.isEmpty { source.error(SourceLocation(file: source.file, line: 1, column: 1), "the file is empty: a schedule needs name, runbook and cron or market") }
            return nil
        }
        guard let top = source.entries(root, what: "a schedule") else { return nil }
        source.rejectUnknownKeys(top, allowed: keys, in: "the schedule")
        let value = { (key: String) in top.first { $0.key == key }?.value }
        let keyNode = { (key: String) in top.first { $0.key == key }?.keyNode }

        let name = readName("name", value("name"), root: root, fallback: "name: \(URL(fileURLWithPath: source.file).deletingPathExtension().lastPathComponent)", &source)
        let runbook = readName("runbook", value("runbook"), root: root, fallback: "runbook: NAME, the runbook it starts", &source)
        let description = value("description").flatMap { source.string($0, what: "description") } ?? ""
        var params: [String: String] = [:]
        if let node = value("params"), let entries = source.entries(node, what: "params") {
            for (key, _, value) in entries {
                if let text = value.scalar?.string { params[key] = text } else { source.error(value, "parameter '\(key)' must be a single value") }
            }
        }
        let timing = readTiming(root: root, value: value, keyNode: keyNode, &source)
        var duringMarket = false
        if let node = value("during"), let text = source.string(node, what: "during") {
            if text != "market" {
                source.error(node, "unknown during '\(text)': write `during: market` to fire only while the forex market is open")
            } else if case .market = timing {
                source.error(node, "during: market is for cron schedules; a market schedule already follows the market")
            } else {
                duringMarket = true
            }
        }
        let catchUp = value("catch_up").flatMap { readChoice($0, what: "catch_up", Schedule.CatchUp.self, &source) } ?? .latest
        let overlap = value("overlap").flatMap { readChoice($0, what: "overlap", Schedule.Overlap.self, &source) } ?? .skip
        var window = Duration.seconds(3600)
        if let node = value("catch_up_window"), let duration = source.duration(node, what: "catch_up_window") {
            if duration <= .zero { source.error(node, "catch_up_window must be longer than 0s: write it like 1h") } else { window = duration }
        }
        let jitter = value("jitter").flatMap { source.duration($0, what: "jitter") } ?? .zero
        guard let timing, !name.isEmpty, !runbook.isEmpty else { return nil }
        return Schedule(
            name: name, description: description, runbook: runbook, params: params, timing: timing, duringMarket: duringMarket,
            catchUp: catchUp, catchUpWindow: window, overlap: overlap, jitter: jitter, file: source.file,
            paramsLocation: source.location(value("params") ?? value("runbook") ?? root)
        )
    }

    private static func readName(_ key: String, _ node: Node?, root: Node, fallback: String, _ source: inout YAMLSource) -> String {
        guard let node else {
            source.error(root, "the schedule has no \(key): add `\(fallback)`")
            return ""
        }
        let name = source.string(node, what: key) ?? ""
        if !name.isEmpty, !RunbookLoader.isRunbookName(name) {
            source.error(node, "\(key) '\(name)' may use lower-case letters, digits, '-' and '_' only")
        }
        return name
    }

    private static func readChoice<Choice: RawRepresentable & CaseIterable>(_ node: Node, what: String, _: Choice.Type, _ source: inout YAMLSource) -> Choice?
    where Choice.RawValue == String {
        guard let text = source.string(node, what: what) else { return nil }
        if let choice = Choice(rawValue: text) { return choice }
        let names = Choice.allCases.map(\.rawValue)
        source.error(node, "unknown \(what) '\(text)'\(Suggestion.hint(for: text, in: names)); use one of \(names.joined(separator: ", "))")
        return nil
    }

    private static func readTiming(
        root: Node, value: (String) -> Node?, keyNode: (String) -> Node?, _ source: inout YAMLSource
    ) -> Schedule.Timing? {
        let offsets = MarketTime.keys.filter { value($0.key) != nil }
        if let every = value("every") {
            for other in ["cron", "market", "time_zone"] + offsets.map(\.key) where keyNode(other) != nil {
                source.error(keyNode(other)!, "a schedule with every has no \(other): keep every, or write cron or market instead")
            }
            guard let interval = source.duration(every, what: "every") else { return nil }
            guard interval >= .seconds(1), interval <= .seconds(86_400), interval.milliseconds % 1000 == 0 else {
                source.error(every, "every must be whole seconds from 1s to 24h, such as 15s or 5m")
                return nil
            }
            return .every(interval)
        }
        switch (value("cron"), value("market")) {
        case (nil, nil):
            source.error(root, "the schedule does not say when: add `cron: \"0 * * * *\"` (with time_zone), `every: 30s`, or `market: forex` with before_open: 15m")
            return nil
        case (.some, .some):
            source.error(keyNode("market")!, "a schedule has cron or market, not both: keep one")
            return nil
        case (let cron?, nil):
            for offset in offsets {
                source.error(keyNode(offset.key)!, "\(offset.key) is for market schedules: remove it, or use `market: forex` instead of cron")
            }
            let zone = readZone(value("time_zone"), &source)
            guard let text = source.string(cron, what: "cron") else { return nil }
            do {
                let expression = try CronExpression.parse(text)
                return zone.map { .cron(expression, $0) }
            } catch {
                source.error(source.location(in: cron, offset: error.offset), error.message)
                return nil
            }
        case (nil, let market?):
            if let zone = keyNode("time_zone") {
                source.error(zone, "a market schedule follows New York time, the market's: remove time_zone (it is for cron)")
            }
            if let text = source.string(market, what: "market"), text != "forex" {
                source.error(market, "unknown market '\(text)': the engine knows forex (Sunday 17:00 to Friday 17:00 New York)")
            }
            guard let first = offsets.first else {
                source.error(market, "a market schedule needs one of \(MarketTime.keys.map(\.key).joined(separator: ", ")), such as before_open: 15m")
                return nil
            }
            for extra in offsets.dropFirst() {
                source.error(keyNode(extra.key)!, "a market schedule takes one of \(MarketTime.keys.map(\.key).joined(separator: ", ")): keep \(first.key) or \(extra.key)")
            }
            guard let duration = source.duration(value(first.key)!, what: first.key) else { return nil }
            return .market(MarketTime(anchor: first.anchor, offset: duration * first.sign))
        }
    }

    private static func readZone(_ node: Node?, _ source: inout YAMLSource) -> TimeZone? {
        guard let node else { return TimeZone(identifier: "UTC") }
        guard let name = source.string(node, what: "time_zone") else { return nil }
        guard let zone = TimeZone(identifier: name) else {
            source.error(node, "unknown time zone '\(name)': write an IANA name such as UTC, Europe/London or America/New_York")
            return nil
        }
        return zone
    }
}
