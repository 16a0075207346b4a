import Foundation

/// A recurring silence: while it is in force the incidents of its check (or of every check) tell
/// nobody, and with `holdRuns` the check's runbooks do not start. It recurs by a cron expression
/// read in a time zone, for a length of time, or over the market's weekend or whenever the market
/// is closed.
public struct MaintenanceWindow: Sendable, Equatable {
    /// When a window is in force.
    public enum Recurrence: Sendable, Equatable {
        /// From each fire of `cron` in `zone` for `length` (elapsed time, whatever the clocks do).
        case cron(CronExpression, zone: TimeZone, length: Duration)
        /// Over a span the market calendar gives.
        case during(MarketSpan)
    }

    /// Spans of the market calendar a window can follow.
    public enum MarketSpan: String, Sendable, CaseIterable {
        /// From the market's weekly close to its weekly open (holidays next to it included).
        case weekend
        /// Whenever the market is closed: weekends and holidays.
        case closed
    }

    /// What becomes of the messages a window held when it ends.
    public enum AtEnd: String, Sendable, CaseIterable {
        /// One message per incident still unresolved, with its state then.
        case send
        /// None: the timeline says it was dropped.
        case drop
    }

    /// The target that covers every check.
    public static let everyCheck = "all"

    /// 0 until stored.
    public var id: Int64
    /// A check's name, or `all`.
    public var target: String
    public var recurrence: Recurrence
    public var reason: String
    public var by: String
    public var createdAt: Date
    /// Whether the runbooks a covered check triggers wait for the window's end.
    public var holdRuns: Bool
    public var atEnd: AtEnd

    public init(
        id: Int64 = 0, target: String, recurrence: Recurrence, reason: String, by: String, createdAt: Date, holdRuns: Bool = false, atEnd: AtEnd = .send
    ) {
        self.id = id
        self.target = target
        self.recurrence = recurrence
        self.reason = reason
        self.by = by
        self.createdAt = createdAt
        self.holdRuns = holdRuns
        self.atEnd = atEnd
    }

    /// Whether the window covers `check`.
    public func covers(_ check: String) -> Bool {
        target == Self.everyCheck || target == check
    }

    /// The span of the window in force at `instant` (start included, end not), or nil. Starts
    /// that overlap (a cron that fires again before the length has passed) make one span.
    public func interval(at instant: Date, market: MarketCalendar = MarketCalendar()) -> DateInterval? {
        switch recurrence {
        case .cron(let cron, let zone, let length):
            let seconds = length.seconds
            guard seconds > 0, let start = cron.next(after: instant.addingTimeInterval(-seconds), in: zone), start <= instant else { return nil }
            var (last, end) = (start, start.addingTimeInterval(seconds))
            // Overlapping starts extend it, up to a bound however the expression is written
            // (`runbook silence` refuses such windows; one kept before is bounded here).
            for _ in 0..<64 {
                guard let next = cron.next(after: last, in: zone), next < end else { break }
                (last, end) = (next, next.addingTimeInterval(seconds))
            }
            return DateInterval(start: start, end: end)
        case .during(let span):
            guard !market.isOpen(at: instant), let open = market.nextOpen(after: instant), let close = market.lastClose(before: instant) else { return nil }
            if span == .weekend, !MarketCalendar.spansSaturday(from: close, to: open) { return nil }
            return DateInterval(start: close, end: open)
        }
    }

    /// The first start of the window strictly after `instant`; nil when none comes within the
    /// time looked at (30 years for a cron, one for the market).
    public func nextStart(after instant: Date, market: MarketCalendar = MarketCalendar()) -> Date? {
        switch recurrence {
        case .cron(let cron, let zone, _):
            return cron.next(after: instant, in: zone)
        case .during(let span):
            var from = instant
            for _ in 0..<60 {
                guard let close = market.nextClose(after: from) else { return nil }
                if span == .closed { return close }
                guard let open = market.nextOpen(after: close) else { return nil }
                if MarketCalendar.spansSaturday(from: close, to: open) { return close }
                from = open
            }
            return nil
        }
    }

    /// How the window recurs, as `runbook silence` takes it: `every "0 22 * * 5" for 2h
    /// (Europe/London)` or `during the weekend`.
    public var schedule: String {
        switch recurrence {
        case .cron(let cron, let zone, let length): "every \"\(cron.text)\" for \(DurationText.format(length)) (\(Self.name(of: zone)))"
        case .during(.weekend): "during the market's weekend"
        case .during(.closed): "while the market is closed"
        }
    }

    /// A zone's name as people write it: UTC for the zone of no offset (which Foundation may call GMT).
    public static func name(of zone: TimeZone) -> String {
        zone.identifier == "GMT" ? "UTC" : zone.identifier
    }

    /// Checks what `runbook silence` and the API were given; the error says what is wrong and how
    /// to write it.
    public static func recurrence(every: String?, length: String?, zone: String?, during: String?) throws(WindowError) -> Recurrence {
        if let during {
            guard every == nil, length == nil, zone == nil else {
                throw WindowError("--during takes no --every, --for or --tz: the market calendar gives the window's start and end")
            }
            guard let span = MarketSpan(rawValue: during.lowercased()) else {
                throw WindowError("'\(during)' is not a market span\(Suggestion.hint(for: during, in: MarketSpan.allCases.map(\.rawValue))): use weekend or closed")
            }
            return .during(span)
        }
        guard let every else { throw WindowError("a maintenance window needs --every CRON --for DURATION, or --during weekend|closed") }
        let cron: CronExpression
        do {
            cron = try CronExpression.parse(every)
        } catch {
            throw WindowError("--every \"\(every)\": \(error.message)")
        }
        guard let length else { throw WindowError("--every needs --for: how long each window lasts, as in --for 2h") }
        guard let duration = DurationText.parse(length), duration > .zero else {
            throw WindowError("--for \(length) is not a duration: write it like 30m, 2h or 1h30m")
        }
        guard duration <= .seconds(7 * 86_400) else { throw WindowError("--for \(length) is longer than a week: a window lasts a week at most") }
        guard duration >= .seconds(60) else { throw WindowError("--for \(length) is shorter than a minute, the cron's step: a window lasts a minute at least") }
        let name = zone ?? "UTC"
        let known = TimeZone.knownTimeZoneIdentifiers
        guard name == "UTC" || known.contains(name), let timeZone = TimeZone(identifier: name) else {
            throw WindowError("unknown time zone '\(name)'\(Suggestion.hint(for: name, in: known)): use an IANA name such as Europe/London or America/New_York")
        }
        // Windows that overlap would join into one that never ends (and be slow to tell apart).
        // Over a year at least, so that both clock changes are in it, whenever the window is made.
        var starts: [Date] = []
        var from = Date()
        while starts.count < 5_000, starts.count < 2 || starts[starts.count - 1].timeIntervalSince(starts[0]) < 400 * 86_400,
              let next = cron.next(after: from, in: timeZone) {
            starts.append(next)
            from = next
        }
        if let gap = zip(starts, starts.dropFirst()).map({ $1.timeIntervalSince($0) }).min(), duration.seconds >= gap {
            throw WindowError(
                "--every \"\(every)\" starts a window every \(DurationText.format(.seconds(gap))) at times, and --for \(length) would join them into one that never ends: make it shorter than that, or the cron sparser"
            )
        }
        return .cron(cron, zone: timeZone, length: duration)
    }
}

/// A maintenance window that cannot be made as asked, with what to do.
public struct WindowError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

extension MaintenanceWindow {
    /// The columns the records keep a window's recurrence in: the cron's text, the zone's name
    /// and the length in seconds, or the market span's name.
    public var columns: (cron: String?, zone: String?, lengthSeconds: Int64?, during: String?) {
        switch recurrence {
        case .cron(let cron, let zone, let length): (cron.text, zone.identifier, Int64(length.seconds.rounded()), nil)
        case .during(let span): (nil, nil, nil, span.rawValue)
        }
    }

    /// A window read back from the records' columns; the error names the window and what is wrong
    /// with it (a zone this machine does not know).
    public static func recurrence(id: Int64, cron: String?, zone: String?, lengthSeconds: Int64?, during: String?) throws -> Recurrence {
        if let during {
            guard let span = MarketSpan(rawValue: during) else { throw WindowError("maintenance window \(id) is kept with an unknown market span '\(during)'") }
            return .during(span)
        }
        guard let cron, let lengthSeconds else { throw WindowError("maintenance window \(id) is kept with neither a cron nor a market span") }
        guard let timeZone = TimeZone(identifier: zone ?? "UTC") else {
            throw WindowError("maintenance window \(id) is in time zone '\(zone ?? "")', which this machine does not know: update its time zone data, or remove the window")
        }
        do {
            return .cron(try CronExpression.parse(cron), zone: timeZone, length: .seconds(lengthSeconds))
        } catch {
            throw WindowError("maintenance window \(id) has a cron this version cannot read, \"\(cron)\": \(error.message)")
        }
    }
}
