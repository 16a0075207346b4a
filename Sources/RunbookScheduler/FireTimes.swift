import Foundation
import RunbookModel

/// The instants a schedule fires at: a cron expression read in its zone (DST-correct), or a time
/// relative to the market's open or close, optionally only while the market is open.
public struct FireTimes: Sendable {
    public let timing: Schedule.Timing
    public let duringMarket: Bool
    public let market: MarketCalendar

    public init(_ schedule: Schedule, market: MarketCalendar) {
        self.init(timing: schedule.timing, duringMarket: schedule.duringMarket, market: market)
    }

    public init(timing: Schedule.Timing, duringMarket: Bool = false, market: MarketCalendar = MarketCalendar()) {
        self.timing = timing
        self.duringMarket = duringMarket
        self.market = market
    }

    /// The first fire strictly after `instant`; nil when there is none within the years looked at.
    public func next(after instant: Date) -> Date? {
        switch timing {
        case .cron(let cron, let zone):
            guard duringMarket else { return cron.next(after: instant, in: zone) }
            var from = instant
            // Each pass either returns or moves to the next open, so a year of weeks bounds it.
            for _ in 0..<400 {
                guard let fire = cron.next(after: from, in: zone) else { return nil }
                if market.isOpen(at: fire) { return fire }
                guard let open = market.nextOpen(after: fire) else { return nil }
                from = open.addingTimeInterval(-0.001)
            }
            return nil
        case .every(let interval):
            let step = interval.milliseconds
            var from = instant
            for _ in 0..<400 {
                let fire = Date(timeIntervalSince1970: Double((Int64((from.timeIntervalSince1970 * 1000).rounded(.down)) / step + 1) * step) / 1000)
                guard duringMarket, !market.isOpen(at: fire) else { return fire }
                guard let open = market.nextOpen(after: fire) else { return nil }
                from = open.addingTimeInterval(-0.001)
            }
            return nil
        case .market(let time):
            let offset = time.offset.seconds
            let anchor: Date?
            switch time.anchor {
            case .open: anchor = market.nextOpen(after: instant.addingTimeInterval(-offset))
            case .close: anchor = market.nextClose(after: instant.addingTimeInterval(-offset))
            }
            return anchor?.addingTimeInterval(offset)
        }
    }

    /// The fires after `instant`, oldest first, computed as they are read.
    public func fires(after instant: Date) -> some Sequence<Date> {
        sequence(state: instant) { from -> Date? in
            guard let fire = next(after: from) else { return nil }
            from = fire
            return fire
        }
    }

    /// The fires after `start` up to and including `end`, oldest first.
    public func fires(after start: Date, through end: Date) -> [Date] {
        Array(fires(after: start).prefix { $0 <= end })
    }

    /// The next `count` fires after `instant`.
    public func upcoming(after instant: Date, count: Int) -> [Date] {
        Array(fires(after: instant).prefix(count))
    }
}
