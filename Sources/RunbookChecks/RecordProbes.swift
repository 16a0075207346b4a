import Foundation
import RunbookCore
import RunbookModel
import RunbookSteps

/// The engine's tick store answers and is sound: SQLite's quick_check, or PostgreSQL reachable
/// with tomorrow's partition made. Value: problems found.
public struct TickStoreProbe: Probe {
    public static let spec = ProbeSpec(
        name: "tick_store", summary: "the tick store (SQLite or PostgreSQL) answers and is sound (value: problems)",
        inputs: [], unit: .count, critical: Threshold(.above, 0)
    )

    public init(inputs: [String: Value]) throws(ProbeInputError) {}

    public func read(in environment: EngineServices) async throws -> ProbeReading {
        guard let access = environment.ticks else {
            throw ProbeFailure("tick_store has no tick store to look at here: run it from the engine or with the configuration that names the store")
        }
        do {
            let problems = try await access.store().problems()
            return ProbeReading(
                value: Double(problems.count), text: problems.isEmpty ? "\(access): answers, sound" : "\(access): \(problems.prefix(3).joined(separator: "; "))",
                subject: "ticks"
            )
        } catch {
            return ProbeReading(value: 1, text: "\(access): \(error)", subject: "ticks")
        }
    }
}

/// Seconds since each engine of the fleet last beat, by the records server's clock; the
/// silentest's. An engine stopped on purpose, or silent for longer than `seen_within`, is left
/// out. Records no other engine shares have no fleet: idle. Value: seconds.
public struct EngineHeartbeatProbe: Probe {
    public static let spec = ProbeSpec(
        name: "engine_heartbeat", summary: "seconds since the silentest engine of the fleet last beat (value: seconds)",
        inputs: [InputSpec("seen_within", .duration)], unit: .seconds, warning: Threshold(.above, 20), critical: Threshold(.above, 30)
    )

    public var seenWithin: Duration

    public init(inputs: [String: Value]) throws(ProbeInputError) {
        seenWithin = inputs.duration("seen_within") ?? .seconds(86_400)
    }

    public func read(in environment: EngineServices) async throws -> ProbeReading {
        guard let fleet = environment.fleet else {
            return ProbeReading(value: nil, text: "one engine keeps these records alone: there is no fleet to watch", status: .idle)
        }
        let members = try await fleet.members().filter { !$0.stopped && $0.silentFor < seenWithin.seconds }
        guard let silentest = members.max(by: { $0.silentFor < $1.silentFor }) else {
            return ProbeReading(value: nil, text: "no engine of the fleet is beating", status: .unknown)
        }
        let others = members.count > 1 ? " (silentest of \(members.count) engines; \(members.first(where: \.leading)?.beat.name ?? "none") leads)" : ""
        return ProbeReading(value: silentest.silentFor, text: "\(silentest.beat.name): last heartbeat \(Age.text(silentest.silentFor)) ago\(others)", subject: silentest.beat.name)
    }
}

/// Seconds since each EA's last heartbeat; the oldest, or one EA's. Value: seconds.
public struct HeartbeatProbe: Probe {
    public static let spec = ProbeSpec(
        name: "ea_heartbeat", summary: "seconds since the last heartbeat of the stalest EA, or of one EA by target_uuid (value: seconds)",
        inputs: [InputSpec("ea", .string), InputSpec("seen_within", .duration)], unit: .seconds, warning: Threshold(.above, 120),
        critical: Threshold(.above, 300), shorthand: "ea"
    )

    public var ea: String?
    /// EAs not heard from for longer are taken as retired, not lost.
    public var seenWithin: Duration

    public init(inputs: [String: Value]) throws(ProbeInputError) {
        ea = inputs.text("ea")
        seenWithin = inputs.duration("seen_within") ?? .seconds(86_400)
    }

    public func read(in environment: EngineServices) async throws -> ProbeReading {
        let now = environment.now()
        let known = try await environment.requireRecords().heartbeats().filter { ea == nil || $0.ea == ea }
        let beats = known.filter { now.timeIntervalSince($0.lastSeen) < seenWithin.seconds }
        if beats.isEmpty, !known.isEmpty {
            return ProbeReading(value: nil, text: "no EA heard from in the last \(DurationText.format(seenWithin))", subject: ea, status: .unknown)
        }
        guard let stalest = beats.min(by: { $0.lastSeen < $1.lastSeen }) else {
            // Nothing to judge yet: an EA that never connected is not one that was lost.
            return ProbeReading(value: nil, text: ea.map { "EA \($0) has never sent a heartbeat" } ?? "no EA has ever sent a heartbeat", subject: ea, status: .unknown)
        }
        let age = max(0, now.timeIntervalSince(stalest.lastSeen))
        let others = beats.count > 1 ? " (stalest of \(beats.count) EAs)" : ""
        return ProbeReading(value: age, text: "\(stalest.ea): last heartbeat \(Age.text(age)) ago\(others)", subject: stalest.ea)
    }
}

/// Seconds since the last tick, signal, fire, confirmation or trade arrived. Value: seconds.
public struct FreshnessProbe: Probe {
    public static let spec = ProbeSpec(
        name: "freshness", summary: "seconds since the last tick, signal, fire, confirmation or trade arrived (value: seconds)",
        inputs: [InputSpec("of", .string, required: true)], unit: .seconds, shorthand: "of"
    )

    static let kinds = ["tick"] + RecordKind.allCases.map(\.rawValue)

    public var of: String

    public init(inputs: [String: Value]) throws(ProbeInputError) {
        of = inputs.text("of") ?? ""
        if of.hasSuffix("s") { of.removeLast() }
        guard Self.kinds.contains(of) else { throw ProbeInputError("freshness of '\(of)' is not one of \(Self.kinds.joined(separator: ", "))") }
    }

    public func read(in environment: EngineServices) async throws -> ProbeReading {
        var last: Date?
        // Nothing ever (ticks: nothing since the engine started) counts from the engine's start:
        // a flow dead from the start is found as one that stopped.
        var engineStart: Date?
        if let engine = environment.engine, let snapshot = try? await engine.snapshot() {
            engineStart = snapshot.startedAt
            if of == "tick" { last = snapshot.ticks?.lastTickAt }
        } else if of == "tick" {
            throw ProbeFailure("ticks are counted by the running engine, and none runs: start it with `runbook up`")
        }
        if of != "tick" { last = try await environment.requireRecords().lastArrival(of: RecordKind(rawValue: of)!) }
        // The wait counts from the market's opening, for a check that counts only while it is
        // open, and with nothing ever, from the engine's start.
        if let opened = environment.sessionStart, (last ?? .distantPast) < opened, (last != nil || (engineStart ?? .distantPast) < opened) {
            let age = max(0, environment.now().timeIntervalSince(opened))
            return ProbeReading(value: age, text: "no \(of) since the market opened \(Age.text(age)) ago", subject: of)
        }
        if let engineStart, last == nil {
            let age = max(0, environment.now().timeIntervalSince(engineStart))
            return ProbeReading(value: age, text: "no \(of) since the engine started \(Age.text(age)) ago", subject: of)
        }
        guard let last else { return ProbeReading(value: .infinity, text: "no \(of) has ever arrived", subject: of) }
        let age = max(0, environment.now().timeIntervalSince(last))
        return ProbeReading(value: age, text: "last \(of) \(Age.text(age)) ago", subject: of)
    }
}

/// How many ticks, signals, fires or trades arrive per unit of time over a window; with
/// `market_time: true` only the market's open time in the window counts. Value: per `per`.
public struct RateProbe: Probe {
    public static let spec = ProbeSpec(
        name: "rate", summary: "ticks, signals, fires or trades per `per` over `window` (value: a rate)",
        inputs: [InputSpec("of", .string, required: true), InputSpec("window", .duration), InputSpec("per", .duration), InputSpec("market_time", .bool)],
        unit: .number, shorthand: "of"
    )

    public var of: String
    public var window: Duration
    public var per: Duration
    public var marketTime: Bool

    public init(inputs: [String: Value]) throws(ProbeInputError) {
        of = inputs.text("of") ?? ""
        let kinds = ["ticks"] + RecordKind.allCases.map(\.plural)
        guard kinds.contains(of) else { throw ProbeInputError("rate of '\(of)' is not one of \(kinds.joined(separator: ", "))") }
        window = inputs.duration("window") ?? (of == "ticks" ? .seconds(60) : .seconds(3600))
        per = inputs.duration("per") ?? window
        if case .bool(let flag)? = inputs["market_time"] { marketTime = flag } else { marketTime = false }
        if of == "ticks", window != .seconds(60) { throw ProbeInputError("rate of ticks is measured over the last minute: leave window out or write 1m") }
        guard window > .zero, per > .zero else { throw ProbeInputError("rate needs a window and per above zero") }
    }

    public func read(in environment: EngineServices) async throws -> ProbeReading {
        let now = environment.now()
        let count: Int
        var start = now.addingTimeInterval(-window.seconds)
        // Records younger than the window (a new install, a demo) are measured over themselves:
        // an hour of records is no day without signals.
        var since: Date?
        if of == "ticks" {
            count = try await environment.requireEngine().snapshot().ticks?.lastMinute ?? 0
        } else {
            let records = try environment.requireRecords()
            // With nothing recorded at all, from the engine's start: an engine up for a day that
            // never saw an EA, a signal or a fire is no new install.
            var began = try await records.firstRecord()
            if began == nil, let engine = environment.engine { began = try? await engine.snapshot().startedAt }
            guard let first = began else {
                return ProbeReading(value: nil, text: "no EA, signal or fire recorded yet, and no engine running: nothing to judge", subject: of, status: .unknown)
            }
            if first > start {
                start = first
                since = first
            }
            // A first record written after `now` was read (the flows write while the probe reads)
            // makes an empty interval, not a reversed one.
            count = try await records.count(of: RecordKind(rawValue: String(of.dropLast()))!, in: DateInterval(start: min(start, now), end: now))
        }
        let span = DateInterval(start: min(start, now), end: now)
        var measured = span.duration
        if marketTime { measured = Self.openSeconds(in: span, market: environment.market) }
        // Early in a week, or in young records, a rate over a few minutes says nothing yet.
        if (marketTime || since != nil) && measured < window.seconds / 4 {
            let place = since.map { "since the records began \(Age.text(now.timeIntervalSince($0))) ago" } ?? "in the last \(DurationText.format(window))"
            return ProbeReading(
                value: nil, text: "only \(Age.text(measured))\(marketTime ? " of open market" : "") \(place): too little to judge", subject: of, status: .unknown
            )
        }
        guard measured > 0 else {
            return ProbeReading(value: nil, text: "the market was not open in the last \(DurationText.format(window))", subject: of, status: .unknown)
        }
        let rate = Double(count) / measured * per.seconds
        let perText = DurationText.format(per)
        return ProbeReading(value: rate, text: String(format: "%.1f %@ per %@ (%d in %@)", rate, of, perText, count, Age.text(measured)), subject: of)
    }

    /// Seconds of `interval` in which the market traded, to the minute.
    static func openSeconds(in interval: DateInterval, market: MarketCalendar) -> Double {
        var open = 0.0
        var start = interval.start
        while start < interval.end {
            let end = min(interval.end, start.addingTimeInterval(60))
            if market.isOpen(at: start) { open += end.timeIntervalSince(start) }
            start = end
        }
        return open
    }
}

/// Share of the last N closed trades that won, overall or per symbol or trading session, the
/// worst group reported. Value: percent.
public struct WinRateProbe: Probe {
    public static let spec = ProbeSpec(
        name: "win_rate", summary: "percent of the last N trades that won, by all, symbol or session; the worst group (value: percent)",
        inputs: [InputSpec("last", .int), InputSpec("min_trades", .int), InputSpec("by", .string)], unit: .percent,
        warning: Threshold(.below, 80), critical: Threshold(.below, 75)
    )

    public var last: Int
    public var minTrades: Int
    public var by: String

    public init(inputs: [String: Value]) throws(ProbeInputError) {
        guard let last = Int(exactly: inputs.number("last") ?? 50), last > 0 else { throw ProbeInputError("win_rate last must be a whole number above 0") }
        guard let minTrades = Int(exactly: inputs.number("min_trades") ?? 10), minTrades >= 0 else { throw ProbeInputError("win_rate min_trades must be a whole number, 0 or more") }
        self.last = last
        self.minTrades = minTrades
        by = inputs.text("by") ?? "all"
        guard ["all", "symbol", "session"].contains(by) else { throw ProbeInputError("win_rate by '\(by)' is not all, symbol or session") }
        guard last >= 1, minTrades >= 1 else { throw ProbeInputError("win_rate needs last and min_trades of 1 or more") }
    }

    public func read(in environment: EngineServices) async throws -> ProbeReading {
        let trades = try await environment.requireRecords().recentTrades(limit: last)
        var groups: [String: [ClosedTrade]] = [:]
        for trade in trades {
            switch by {
            case "symbol": groups[trade.symbol, default: []].append(trade)
            case "session": for session in TradingSession.sessions(at: trade.closedAt) { groups[session.rawValue, default: []].append(trade) }
            default: groups["all", default: []].append(trade)
            }
        }
        let judged = groups.filter { $0.value.count >= minTrades }
        guard !judged.isEmpty else {
            return ProbeReading(value: nil, text: "\(trades.count) trade(s): fewer than \(minTrades) to judge", status: .unknown)
        }
        let rates = judged.map { group, trades in (group, Double(trades.filter { $0.pnl > 0 }.count) / Double(trades.count) * 100, trades.count) }
        let worst = rates.min { $0.1 < $1.1 }!
        let label = by == "all" ? "" : "\(worst.0): "
        return ProbeReading(value: worst.1, text: String(format: "%@%.0f%% of %d trades won", label, worst.1, worst.2), subject: by == "all" ? nil : worst.0)
    }
}

/// The forex trading sessions by local business hours: Asian 09-18 Asia/Tokyo, London 08-17
/// Europe/London, New York 08-17 America/New_York, and the overlap of London and New York.
public enum TradingSession: String, Sendable, CaseIterable {
    case asian, london, newYork = "new_york", overlap

    /// The sessions an instant falls in.
    public static func sessions(at instant: Date) -> [TradingSession] {
        func hour(in zone: String) -> Int {
            var calendar = Calendar(identifier: .gregorian)
            calendar.timeZone = TimeZone(identifier: zone)!
            return calendar.component(.hour, from: instant)
        }
        var result: [TradingSession] = []
        let tokyo = hour(in: "Asia/Tokyo")
        if (9..<18).contains(tokyo) { result.append(.asian) }
        let london = (8..<17).contains(hour(in: "Europe/London"))
        let newYork = (8..<17).contains(hour(in: "America/New_York"))
        if london { result.append(.london) }
        if newYork { result.append(.newYork) }
        if london && newYork { result.append(.overlap) }
        return result
    }
}

/// Fires queued for EAs and not yet sent. Value: how many.
public struct QueueDepthProbe: Probe {
    public static let spec = ProbeSpec(
        name: "queue_depth", summary: "fires queued and not yet sent to an EA (value: count)",
        unit: .count, warning: Threshold(.above, 10), critical: Threshold(.above, 100)
    )

    public init(inputs: [String: Value]) throws(ProbeInputError) {}

    public func read(in environment: EngineServices) async throws -> ProbeReading {
        let queued = try await environment.requireRecords().queuedFires()
        let oldest = queued.oldest.map { ", oldest \(Age.text(environment.now().timeIntervalSince($0))) old" } ?? ""
        return ProbeReading(value: Double(queued.count), text: "\(queued.count) fire(s) queued\(oldest)")
    }
}

/// Where fires, confirmations, closes and the EAs' own positions reports disagree: fills with no
/// close after `open_after`, answers for fires never queued, fires sent and unanswered after
/// `unanswered_after`, positions no fire explains and fills the EA no longer holds. Each finding
/// names its tickets. Value: findings.
public struct ReconciliationProbe: Probe {
    public static let spec = ProbeSpec(
        name: "reconciliation", summary: "findings where fires, their answers and the EAs' positions reports disagree, naming the tickets (value: findings)",
        inputs: [
            InputSpec("open_after", .duration), InputSpec("unanswered_after", .duration), InputSpec("unknown_within", .duration), InputSpec("report_within", .duration),
            InputSpec("look_back", .duration),
        ],
        unit: .count, critical: Threshold(.above, 0)
    )

    public var limits = Reconciliation.Limits()

    public init(inputs: [String: Value]) throws(ProbeInputError) {
        if let value = inputs.duration("open_after") { limits.openAfter = value.seconds }
        if let value = inputs.duration("unanswered_after") { limits.unansweredAfter = value.seconds }
        if let value = inputs.duration("unknown_within") { limits.unmatchedWithin = value.seconds }
        if let value = inputs.duration("report_within") { limits.reportWithin = value.seconds }
        if let value = inputs.duration("look_back") { limits.lookBack = value.seconds }
        guard limits.openAfter > 0, limits.unansweredAfter > 0, limits.unmatchedWithin > 0, limits.reportWithin > 0, limits.lookBack > 0 else {
            throw ProbeInputError("reconciliation's durations must be above zero")
        }
    }

    public func read(in environment: EngineServices) async throws -> ProbeReading {
        let records = try environment.requireRecords()
        let now = environment.now()
        let facts = try await Reconciliation.Facts.read(from: records, now: now, limits: limits)
        let findings = Reconciliation.findings(facts, now: now, limits: limits)
        guard !findings.isEmpty else {
            let open = facts.open.filter { !$0.isCanary }.count
            let compared = facts.reports.filter { now.timeIntervalSince($0.at) <= limits.reportWithin }.count
            return ProbeReading(value: 0, text: "fires, answers and positions agree (\(open) open fill(s); \(compared) EA positions report(s) compared)")
        }
        // Fills held long are worth a look, not a page: a trade may be held for days.
        let status: CheckStatus? = findings.allSatisfy(\.isWarning) ? .warning : nil
        return ProbeReading(value: Double(findings.count), text: findings.map(\.text).joined(separator: "; "), status: status)
    }
}
