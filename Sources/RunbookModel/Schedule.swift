import Foundation

/// When to run a runbook, what to do about fires missed while the engine was down, and what to do
/// when the previous run is still going at the next fire.
public struct Schedule: Sendable {
    /// The two ways of saying when.
    public enum Timing: Sendable, Equatable {
        /// A cron expression read in an IANA time zone.
        case cron(CronExpression, TimeZone)
        /// A time relative to the forex market's weekly open or close.
        case market(MarketTime)
        /// Every so long, at whole multiples of it since 1970-01-01 00:00 UTC (`every: 15s` fires
        /// at :00, :15, :30 and :45 of each minute, whichever engine computes it).
        case every(Duration)
    }

    /// Which fires missed while the engine was down (or while the clock jumped) still run.
    public enum CatchUp: String, Sendable, CaseIterable {
        /// None: the next run is the next fire.
        case none
        /// The latest missed fire within the window, once.
        case latest
        /// Every missed fire within the window, one after another.
        case all
    }

    /// What a fire does while the previous run of the schedule is still going.
    public enum Overlap: String, Sendable, CaseIterable {
        /// The fire is passed over.
        case skip
        /// The fire runs when the current run ends; at most one waits.
        case queue
        /// The current run is cancelled and the fire runs.
        case replace
    }

    public var name: String
    public var description: String
    /// The runbook it starts; it may be missing from the library (then no fire runs).
    public var runbook: String
    /// Parameters as written, typed against the runbook when a fire starts it.
    public var params: [String: String]
    public var timing: Timing
    /// Fires only while the market is open (`during: market`).
    public var duringMarket: Bool
    public var catchUp: CatchUp
    /// How old a missed fire may be and still run.
    public var catchUpWindow: Duration
    public var overlap: Overlap
    /// Each fire starts up to this much after its time, at random, to spread load.
    public var jitter: Duration
    public var file: String
    /// Where `params` (or, without it, `runbook`) is written, for problems found against the runbook.
    public var paramsLocation: SourceLocation

    public init(
        name: String, description: String = "", runbook: String, params: [String: String] = [:], timing: Timing, duringMarket: Bool = false,
        catchUp: CatchUp = .latest, catchUpWindow: Duration = .seconds(3600), overlap: Overlap = .skip, jitter: Duration = .zero,
        file: String = "", paramsLocation: SourceLocation? = nil
    ) {
        self.name = name
        self.description = description
        self.runbook = runbook
        self.params = params
        self.timing = timing
        self.duringMarket = duringMarket
        self.catchUp = catchUp
        self.catchUpWindow = catchUpWindow
        self.overlap = overlap
        self.jitter = jitter
        self.file = file
        self.paramsLocation = paramsLocation ?? SourceLocation(file: file, line: 1, column: 1)
    }

    /// The zone fire times are shown in: the cron zone, or New York for the market.
    public var timeZone: TimeZone {
        switch timing {
        case .cron(_, let zone): return zone
        case .market: return MarketCalendar.zone
        case .every: return TimeZone(identifier: "UTC")!
        }
    }

    /// The timing as written: `30 2 * * * (Europe/London)` or `15m before the forex open`.
    public var whenText: String {
        switch timing {
        case .cron(let cron, let zone): return "\(cron.text) (\(zone.name))" + (duringMarket ? " while the market is open" : "")
        case .market(let time): return time.description
        case .every(let interval): return "every \(DurationText.format(interval))" + (duringMarket ? " while the market is open" : "")
        }
    }
}

/// A time relative to the forex market's weekly open (Sunday 17:00 New York) or close (Friday
/// 17:00 New York), holidays included.
public struct MarketTime: Sendable, Equatable, CustomStringConvertible {
    public enum Anchor: String, Sendable {
        case open, close
    }

    public var anchor: Anchor
    /// Signed: negative before the anchor.
    public var offset: Duration

    public init(anchor: Anchor, offset: Duration) {
        self.anchor = anchor
        self.offset = offset
    }

    /// The schedule keys, each with its anchor and the sign of its offset.
    static let keys: [(key: String, anchor: Anchor, sign: Int64)] = [
        ("before_open", .open, -1), ("after_open", .open, 1), ("before_close", .close, -1), ("after_close", .close, 1),
    ]

    public var description: String {
        let side = offset < .zero ? "before" : "after"
        return "\(DurationText.format(offset < .zero ? .zero - offset : offset)) \(side) the forex \(anchor.rawValue)"
    }
}

extension TimeZone {
    /// The zone's IANA name; Foundation calls UTC "GMT", which operators do not write.
    public var name: String {
        identifier == "GMT" ? "UTC" : identifier
    }
}

extension Schedule {
    /// The schedule's parameters as shown to people: those the runbook marks secret as `***`.
    public func shownParams(in library: RunbookLibrary) -> [String: String] {
        params.reduce(into: [:]) { shown, param in
            shown[param.key] = library.runbooks[runbook]?.param(named: param.key)?.secret == true ? "***" : param.value
        }
    }
}
