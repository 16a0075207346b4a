import Foundation

/// What the records say about the trading flows, for probes and steps. The SQLite adapter implements it.
public protocol HealthRecords: TradeRecords {
    /// Every EA that has sent a heartbeat, with when it last did.
    func heartbeats() async throws -> [(ea: String, lastSeen: Date)]
    /// When the last record of `kind` arrived; nil when none ever has.
    func lastArrival(of kind: RecordKind) async throws -> Date?
    /// Records of `kind` that arrived in `interval`.
    func count(of kind: RecordKind, in interval: DateInterval) async throws -> Int
    /// The last `limit` closed trades, newest first.
    func recentTrades(limit: Int) async throws -> [ClosedTrade]
    /// Fires queued and not yet sent to an EA.
    func queuedFires() async throws -> (count: Int, oldest: Date?)
    /// When the command router recorded the test probe `id`; nil when it has not.
    func probeArrival(id: String) async throws -> Date?
    /// A fire's status (`QUEUED`, `SENT`, `FILLED`, `FAILED`), its error and when it finished;
    /// nil when no fire has the id.
    func fireOutcome(id: String) async throws -> FireOutcome?
    /// When the flows' records began: the first EA seen, signal or fire recorded; nil before any.
    /// A rate over a window longer than the records is measured over the records alone.
    func firstRecord() async throws -> Date?
}

/// Canary fires (`fire_round_trip`, ids starting `canary-`) prove the fire path on demo
/// accounts; they are no trading: the records leave them out of rates, freshness, win rates and
/// the queue's depth.
public enum FlowRecordsCanary {
    public static let prefix = "canary-"
    /// The SQL condition (SQLite and PostgreSQL) on a table with `fire_id` that leaves canaries out.
    /// (Not `LIKE`, which SQLite reads without case.)
    public static let notCanary = "substr(fire_id, 1, 7) <> 'canary-'"
}

/// Where a fire stands in the records.
public struct FireOutcome: Sendable, Equatable {
    public var status: String
    public var error: String?
    /// When the router sent it to its EA; nil when it never did (failed before).
    public var sentAt: Date?
    public var finishedAt: Date?

    public init(status: String, error: String?, sentAt: Date?, finishedAt: Date?) {
        self.status = status
        self.error = error
        self.sentAt = sentAt
        self.finishedAt = finishedAt
    }
}

/// The records flows write.
public enum RecordKind: String, Sendable, CaseIterable {
    case signal, fire, confirmation, trade

    /// As written in checks: `signals`, `fires`.
    public var plural: String { rawValue + "s" }
}

/// A closed trade, for win rates.
public struct ClosedTrade: Sendable, Equatable {
    public var symbol: String
    public var pnl: Double
    public var closedAt: Date

    public init(symbol: String, pnl: Double, closedAt: Date) {
        self.symbol = symbol
        self.pnl = pnl
        self.closedAt = closedAt
    }
}

/// Open alerts: a check that turned warning or critical opens one, its recovery clears it.
public protocol AlertBook: Sendable {
    /// The checks with an open alert.
    func openAlerts() async throws -> [String]
    /// Clears the open alerts of `check`; how many were cleared.
    func clearAlerts(check: String, by actor: String) async throws -> Int
}
