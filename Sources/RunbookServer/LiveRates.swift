import Foundation
import RunbookChecks
import RunbookCore
import Synchronization

/// Message rates worked out from the engine's running totals, sampled about once a second:
/// each flow's rate in and out over the last few seconds, and ticks per second over the last
/// five minutes for the dashboard's chart.
public final class LiveRates: Sendable {
    struct Sample {
        var at: Date
        var totals: [String: (received: Int, sent: Int)]
        var ticks: Int
    }

    /// Rates are averaged over this span.
    static let window: TimeInterval = 5
    /// Samples are kept this long.
    static let history: TimeInterval = 300

    private let samples = Mutex<[Sample]>([])

    public init() {}

    /// Takes a sample unless the last is under `spacing` old.
    public func sample(_ snapshot: EngineSnapshot, spacing: TimeInterval = 0.9) {
        let now = snapshot.updatedAt
        var totals: [String: (received: Int, sent: Int)] = [:]
        for service in snapshot.services where service.kind == .flow {
            totals[service.name] = (service.received ?? 0, service.sent ?? 0)
        }
        let ticks = snapshot.ticks?.received ?? 0
        samples.withLock { samples in
            if let last = samples.last, now.timeIntervalSince(last.at) < spacing { return }
            samples.append(Sample(at: now, totals: totals, ticks: ticks))
            if let keep = samples.firstIndex(where: { now.timeIntervalSince($0.at) <= Self.history }), keep > 0 { samples.removeFirst(keep) }
        }
    }

    /// Per flow: messages per second in and out over the last few seconds (nil until two
    /// samples a second apart exist).
    public func flowRates() -> [String: (in: Double, out: Double)] {
        samples.withLock { samples in
            guard let last = samples.last,
                  let first = samples.last(where: { last.at.timeIntervalSince($0.at) >= Self.window }) ?? samples.first,
                  last.at.timeIntervalSince(first.at) >= 0.5
            else { return [:] }
            let span = last.at.timeIntervalSince(first.at)
            var rates: [String: (in: Double, out: Double)] = [:]
            for (name, now) in last.totals {
                let then = first.totals[name] ?? (0, 0)
                rates[name] = (Double(max(0, now.received - then.received)) / span, Double(max(0, now.sent - then.sent)) / span)
            }
            return rates
        }
    }

    /// Ticks per second between consecutive samples, oldest first.
    public func tickHistory() -> [(at: Date, perSecond: Double)] {
        samples.withLock { samples in
            zip(samples, samples.dropFirst()).map { earlier, later in
                let span = max(later.at.timeIntervalSince(earlier.at), 0.001)
                return (later.at, Double(max(0, later.ticks - earlier.ticks)) / span)
            }
        }
    }
}
