import Foundation

/// One position an EA holds, as its `positions` report gives it.
public struct Position: Sendable, Equatable, Codable {
    public var ticket: Int64
    public var symbol: String
    public var lots: Double

    public init(ticket: Int64, symbol: String, lots: Double) {
        self.ticket = ticket
        self.symbol = symbol
        self.lots = lots
    }
}

/// An EA's last report of the positions it holds.
public struct PositionReport: Sendable, Equatable {
    public var ea: String
    /// When the engine received it.
    public var at: Date
    public var positions: [Position]

    public init(ea: String, at: Date, positions: [Position]) {
        self.ea = ea
        self.at = at
        self.positions = positions
    }
}

/// A fire its EA filled and no close has been recorded for: an open position by the records.
public struct OpenFill: Sendable, Equatable {
    public var fireID: String
    public var ea: String
    public var symbol: String
    public var lots: Double
    public var ticket: Int64?
    public var filledAt: Date

    public init(fireID: String, ea: String, symbol: String, lots: Double, ticket: Int64?, filledAt: Date) {
        self.fireID = fireID
        self.ea = ea
        self.symbol = symbol
        self.lots = lots
        self.ticket = ticket
        self.filledAt = filledAt
    }

    /// A canary (demo account, `fire_round_trip`): it explains a position, it is no exposure.
    public var isCanary: Bool { fireID.hasPrefix(FlowRecordsCanary.prefix) }
}

/// A fire sent to its EA and not answered.
public struct UnansweredFire: Sendable, Equatable {
    public var fireID: String
    public var ea: String
    public var symbol: String
    public var sentAt: Date

    public init(fireID: String, ea: String, symbol: String, sentAt: Date) {
        self.fireID = fireID
        self.ea = ea
        self.symbol = symbol
        self.sentAt = sentAt
    }
}

/// A fill whose close was recorded.
public struct ClosedFill: Sendable, Equatable {
    public var fireID: String
    public var ea: String
    public var ticket: Int64?
    public var closedAt: Date

    public init(fireID: String, ea: String, ticket: Int64?, closedAt: Date) {
        self.fireID = fireID
        self.ea = ea
        self.ticket = ticket
        self.closedAt = closedAt
    }
}

/// A confirmation or close that named a fire the records never queued.
public struct UnmatchedAnswer: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case confirmation, close
    }

    public var kind: Kind
    public var fireID: String
    public var ticket: Int64?
    public var at: Date

    public init(kind: Kind, fireID: String, ticket: Int64?, at: Date) {
        self.kind = kind
        self.fireID = fireID
        self.ticket = ticket
        self.at = at
    }
}

/// What the records hold about trades in flight, for reconciliation and exposure. Each read
/// looks back to `since`: records older than that are history, not something to page about.
public protocol TradeRecords: Sendable {
    /// Fires FILLED since `since` with no close recorded, canaries included.
    func openFills(since: Date) async throws -> [OpenFill]
    /// Fires SENT to an EA since `since` with no confirmation and no close (canaries aside: they
    /// are `fire_round_trip`'s).
    func unansweredFires(since: Date) async throws -> [UnansweredFire]
    /// Fills whose close was recorded since `since`.
    func closedFills(since: Date) async throws -> [ClosedFill]
    /// Confirmations and closes received since `since` for fires never queued, the newest
    /// first, at most `TradeRecordsLimits.answers`.
    func unmatchedAnswers(since: Date) async throws -> [UnmatchedAnswer]
    /// Each EA's last positions report.
    func positionReports() async throws -> [PositionReport]
}

public enum TradeRecordsLimits {
    /// The most answers for unknown fires read back at once.
    public static let answers = 1000
    /// How long answers for unknown fires are kept.
    public static let keepAnswers: TimeInterval = 7 * 86_400
    /// How far back exposure looks for fills with no close (an EA's own report has no such limit).
    public static let exposureLookBack: TimeInterval = 30 * 86_400
}

/// Text an EA or a peer chose, fit for an alert: control and format characters (a newline, a
/// right-to-left override) shown as `?`.
public func printable(_ text: String) -> String {
    String(String.UnicodeScalarView(text.unicodeScalars.map { scalar in
        switch scalar.properties.generalCategory {
        case .control, .format, .lineSeparator, .paragraphSeparator: "?"
        default: scalar
        }
    }))
}

/// What one EA holds open.
public struct Exposure: Sendable, Equatable {
    public var ea: String
    public var positions: Int
    public var lots: Double
    /// Where the figures come from: the EA's own report, or fills minus closes in the records.
    public var fromReport: Bool

    public init(ea: String, positions: Int, lots: Double, fromReport: Bool) {
        self.ea = ea
        self.positions = positions
        // Summed lots to the millionth: 0.1 + 0.1 + 0.1 is 0.3.
        self.lots = (lots * 1e6).rounded() / 1e6
        self.fromReport = fromReport
    }

    /// `3 open positions, 1.2 lots`.
    public var text: String {
        "\(positions) open position\(positions == 1 ? "" : "s"), \(Self.lots(lots)) lots"
    }

    static func lots(_ value: Double) -> String {
        var text = String(format: "%.2f", value)
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text
    }

    /// Each EA's open positions: its last report where that is no older than its newest open
    /// fill (an EA reports what it holds; a fill after the report is not in it yet), otherwise
    /// fills minus closes. Canary fills are demo trades and count as none. EAs holding nothing
    /// are left out.
    public static func of(fills: [OpenFill], reports: [PositionReport]) -> [Exposure] {
        let byEA = Dictionary(grouping: fills.filter { !$0.isCanary }, by: \.ea)
        let reported = Dictionary(reports.map { ($0.ea, $0) }, uniquingKeysWith: { $0.at >= $1.at ? $0 : $1 })
        var result: [Exposure] = []
        for ea in Set(byEA.keys).union(reported.keys).sorted() {
            let fills = byEA[ea] ?? []
            let exposure: Exposure
            if let report = reported[ea], report.at >= (fills.map(\.filledAt).max() ?? .distantPast) {
                exposure = Exposure(ea: ea, positions: report.positions.count, lots: report.positions.reduce(0) { $0 + $1.lots }, fromReport: true)
            } else {
                exposure = Exposure(ea: ea, positions: fills.count, lots: fills.reduce(0) { $0 + $1.lots }, fromReport: false)
            }
            if exposure.positions > 0 { result.append(exposure) }
        }
        return result
    }
}


/// Where the fires, the records and the EAs' own positions disagree.
public enum Reconciliation {
    public struct Finding: Sendable, Equatable {
        public enum Kind: String, Sendable, CaseIterable {
            /// FILLED and no close after `openAfter`: a warning, a trade may be held for days.
            case openTooLong = "open_too_long"
            /// A confirmation or close for a fire never queued.
            case unknownFire = "answer_for_unknown_fire"
            /// SENT and no confirmation after `unansweredAfter`.
            case unanswered = "sent_unanswered"
            /// An EA reports a position no fill of it explains.
            case unexplainedPosition = "unexplained_position"
            /// A fill of an EA that its report no longer holds, and no close came.
            case fillNotHeld = "fill_not_held"
        }

        public var kind: Kind
        public var ea: String?
        /// What the finding is about: tickets where known, fire ids otherwise.
        public var items: [String]

        public init(kind: Kind, ea: String?, items: [String]) {
            self.kind = kind
            self.ea = ea
            self.items = items
        }

        /// Only a warning: every other finding is critical.
        public var isWarning: Bool { kind == .openTooLong }

        public var text: String {
            let list = items.prefix(10).map(printable).joined(separator: ", ") + (items.count > 10 ? " and \(items.count - 10) more" : "")
            let ea = ea.map { "\(printable($0)): " } ?? ""
            switch kind {
            case .openTooLong: return "\(ea)\(items.count) fill(s) with no close: \(list)"
            case .unknownFire: return "\(items.count)\(items.count >= TradeRecordsLimits.answers ? " or more" : "") answer(s) for fires never queued: \(list)"
            case .unanswered: return "\(ea)\(items.count) fire(s) sent with no confirmation: \(list)"
            case .unexplainedPosition: return "\(ea)\(items.count) position(s) no fire explains: \(list)"
            case .fillNotHeld: return "\(ea)\(items.count) fill(s) the EA no longer holds: \(list)"
            }
        }
    }

    public struct Limits: Sendable {
        public var openAfter: TimeInterval = 24 * 3600
        public var unansweredAfter: TimeInterval = 120
        /// How far back answers for unknown fires count.
        public var unmatchedWithin: TimeInterval = 3600
        /// A positions report older than this is not compared: the EA may have traded since.
        public var reportWithin: TimeInterval = 300
        /// Fills and fires older than this are history: the records are not searched further back.
        public var lookBack: TimeInterval = 7 * 86_400

        public init() {}
    }

    /// What the records hold for reconciliation, each read back to the limits' look-back.
    public struct Facts: Sendable {
        public var open: [OpenFill]
        public var closed: [ClosedFill]
        public var sent: [UnansweredFire]
        public var unmatched: [UnmatchedAnswer]
        public var reports: [PositionReport]

        public init(open: [OpenFill] = [], closed: [ClosedFill] = [], sent: [UnansweredFire] = [], unmatched: [UnmatchedAnswer] = [], reports: [PositionReport] = []) {
            self.open = open
            self.closed = closed
            self.sent = sent
            self.unmatched = unmatched
            self.reports = reports
        }

        public static func read(from records: any TradeRecords, now: Date, limits: Limits) async throws -> Facts {
            let since = now.addingTimeInterval(-limits.lookBack)
            return Facts(
                open: try await records.openFills(since: since), closed: try await records.closedFills(since: since),
                sent: try await records.unansweredFires(since: since),
                unmatched: try await records.unmatchedAnswers(since: now.addingTimeInterval(-limits.unmatchedWithin)), reports: try await records.positionReports()
            )
        }
    }

    /// A fill as a finding names it: `ticket 1234 (fire F-1)`, or its fire id alone.
    static func name(_ fill: OpenFill) -> String {
        fill.ticket.map { "ticket \($0) (fire \(fill.fireID))" } ?? "fire \(fill.fireID) (no ticket)"
    }

    public static func findings(_ facts: Facts, now: Date, limits: Limits = Limits()) -> [Finding] {
        var findings: [Finding] = []
        let old = facts.open.filter { !$0.isCanary && now.timeIntervalSince($0.filledAt) > limits.openAfter }
        for (ea, group) in Dictionary(grouping: old, by: \.ea).sorted(by: { $0.key < $1.key }) {
            findings.append(Finding(kind: .openTooLong, ea: ea, items: group.sorted { $0.filledAt < $1.filledAt }.map(name)))
        }
        let recent = facts.unmatched.filter { now.timeIntervalSince($0.at) <= limits.unmatchedWithin }.sorted { $0.at > $1.at }
        if !recent.isEmpty {
            findings.append(Finding(kind: .unknownFire, ea: nil, items: recent.map { answer in
                "\(answer.kind.rawValue) for \(answer.fireID)" + (answer.ticket.map { " (ticket \($0))" } ?? "")
            }))
        }
        let silent = facts.sent.filter { now.timeIntervalSince($0.sentAt) > limits.unansweredAfter }
        for (ea, group) in Dictionary(grouping: silent, by: \.ea).sorted(by: { $0.key < $1.key }) {
            findings.append(Finding(kind: .unanswered, ea: ea, items: group.sorted { $0.sentAt < $1.sentAt }.map { "fire \($0.fireID)" }))
        }
        for report in facts.reports.sorted(by: { $0.ea < $1.ea }) where now.timeIntervalSince(report.at) <= limits.reportWithin {
            findings += compare(report, facts, limits: limits)
        }
        return findings
    }

    /// One EA's report against its fills. A reported position is explained by an open fill of
    /// that EA with its ticket; by a fill of that EA closed after the report arrived (still held
    /// when the EA reported); by an open fill without a ticket of the same symbol and lots; or by
    /// a fire sent before the report and not yet answered nor overdue, of the same symbol (the EA
    /// opened it and its confirmation is on the way).
    static func compare(_ report: PositionReport, _ facts: Facts, limits: Limits) -> [Finding] {
        let mine = facts.open.filter { $0.ea == report.ea }
        var explained = Set(mine.compactMap(\.ticket))
        for closed in facts.closed where closed.ea == report.ea && closed.closedAt >= report.at {
            if let ticket = closed.ticket { explained.insert(ticket) }
        }
        var left = report.positions.filter { !explained.contains($0.ticket) }
        var ticketlessNotHeld: [OpenFill] = []
        for fill in mine where fill.ticket == nil {
            if let index = left.firstIndex(where: { $0.symbol == fill.symbol && abs($0.lots - fill.lots) < 1e-9 }) {
                left.remove(at: index)
            } else {
                ticketlessNotHeld.append(fill)
            }
        }
        var inFlight = facts.sent.filter { $0.ea == report.ea && $0.sentAt <= report.at && report.at.timeIntervalSince($0.sentAt) <= limits.unansweredAfter }
        left = left.filter { position in
            guard let index = inFlight.firstIndex(where: { $0.symbol == position.symbol }) else { return true }
            inFlight.remove(at: index)
            return false
        }
        var findings: [Finding] = []
        if !left.isEmpty {
            findings.append(Finding(kind: .unexplainedPosition, ea: report.ea, items: left.map { "ticket \($0.ticket) (\($0.symbol) \(Exposure.lots($0.lots)) lots)" }))
        }
        let held = Set(report.positions.map(\.ticket))
        // A fill after the report is not in it yet; canaries are demo trades an EA may close at once.
        let gone = mine.filter { fill in
            guard !fill.isCanary, fill.filledAt < report.at else { return false }
            if let ticket = fill.ticket { return !held.contains(ticket) }
            return ticketlessNotHeld.contains(fill)
        }
        if !gone.isEmpty {
            findings.append(Finding(kind: .fillNotHeld, ea: report.ea, items: gone.map(name)))
        }
        return findings
    }
}
