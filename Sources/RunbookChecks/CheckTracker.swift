import Foundation
import RunbookModel

/// The state of one check over time: a new status is taken only after enough results in a row
/// say so (hysteresis), and a check that changes state too often is marked flapping.
public struct CheckTracker: Sendable {
    public let check: Check
    /// The status operators see; `unknown` until the first result.
    public private(set) var status: CheckStatus = .unknown
    public private(set) var since: Date?
    public private(set) var last: CheckResult?
    public private(set) var flapping = false
    /// The status results point to, and how many in a row have.
    private var candidate: CheckStatus?
    private var streak = 0
    private var changes: [Date] = []

    public init(check: Check) {
        self.check = check
    }

    /// A state change, when `result` makes one.
    public struct Change: Sendable, Equatable {
        public var from: CheckStatus
        public var to: CheckStatus
        public var at: Date
    }

    /// Takes one result; the change it makes, if any.
    public mutating func record(_ result: CheckResult) -> Change? {
        last = result
        // A check that calms down stops flapping, whether or not it changes again.
        changes = changes.filter { result.at.timeIntervalSince($0) < check.flapWindow.seconds }
        flapping = changes.count >= check.flapLimit
        let observed = result.status
        if observed == status {
            candidate = nil
            streak = 0
            return nil
        }
        if candidate.map({ Self.sameWay($0, observed, from: status) }) == true {
            streak += 1
        } else {
            streak = 1
        }
        candidate = observed
        guard streak >= needed(to: observed) else { return nil }
        let change = Change(from: status, to: observed, at: result.at)
        status = observed
        since = result.at
        candidate = nil
        streak = 0
        changes.append(result.at)
        flapping = changes.count >= check.flapLimit
        return change
    }

    /// Results in a row it takes to move to `target`.
    private func needed(to target: CheckStatus) -> Int {
        // The first result is taken at once unless it is bad; the market opening or closing too.
        if since == nil { return target.isBad ? check.failAfter : 1 }
        // The market closing is taken at once; on its opening a bad result needs the usual run.
        if target == .idle { return 1 }
        if status == .idle { return target.isBad || target == .unknown ? check.failAfter : 1 }
        if target == .healthy { return check.recoverAfter }
        if target.isBad, status.isBad { return target > status ? check.failAfter : check.recoverAfter }
        return check.failAfter
    }

    /// Whether two results point the same way from `status`: both bad when it is not, or the same.
    private static func sameWay(_ a: CheckStatus, _ b: CheckStatus, from status: CheckStatus) -> Bool {
        if !status.isBad, a.isBad, b.isBad { return true }
        return a == b
    }
}
