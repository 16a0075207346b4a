import Foundation

/// A health check: a probe, thresholds on what it measures, how often, and what to run when it
/// turns bad.
public struct Check: Sendable {
    public var name: String
    public var description: String
    public var probe: ProbeConfig
    /// Nil to use the probe's own default.
    public var warning: Threshold?
    public var critical: Threshold?
    public var interval: Duration
    /// How long a probe may take before it counts as unknown.
    public var timeout: Duration
    /// Consecutive bad results before the state changes.
    public var failAfter: Int
    /// Consecutive good results before a bad state recovers.
    public var recoverAfter: Int
    /// Only evaluated while the market trades; `idle` otherwise.
    public var duringMarket: Bool
    public var onCritical: CheckAction?
    public var onWarning: CheckAction?
    /// Least time between two runs this check triggers.
    public var cooldown: Duration
    /// State changes within `flapWindow` that mark the check flapping.
    public var flapLimit: Int
    public var flapWindow: Duration
    /// Checks whose open incidents hold back this check's notifications (no market data
    /// explains a low signal rate).
    public var dependsOn: [CheckDependency] = []
    /// `scope: shared`: a check of what every engine of a fleet shares (a database, a web app),
    /// evaluated by the leader only; `local` (the default): each engine evaluates its own.
    public var shared = false
    public var file: String
    public var location: SourceLocation

    public init(
        name: String, description: String = "", probe: ProbeConfig, warning: Threshold? = nil, critical: Threshold? = nil,
        interval: Duration = .seconds(10), timeout: Duration = .seconds(5), failAfter: Int = 3, recoverAfter: Int = 2,
        duringMarket: Bool = false, onCritical: CheckAction? = nil, onWarning: CheckAction? = nil, cooldown: Duration = .seconds(600),
        flapLimit: Int = 6, flapWindow: Duration = .seconds(3600), file: String = "", location: SourceLocation? = nil
    ) {
        self.name = name
        self.description = description
        self.probe = probe
        self.warning = warning
        self.critical = critical
        self.interval = interval
        self.timeout = timeout
        self.failAfter = failAfter
        self.recoverAfter = recoverAfter
        self.duringMarket = duringMarket
        self.onCritical = onCritical
        self.onWarning = onWarning
        self.cooldown = cooldown
        self.flapLimit = flapLimit
        self.flapWindow = flapWindow
        self.file = file
        self.location = location ?? SourceLocation(file: file, line: 1, column: 1)
    }
}

/// A probe kind with its inputs, as written.
public struct ProbeConfig: Sendable {
    public var kind: String
    public var inputs: [String: Value]

    public init(kind: String, inputs: [String: Value] = [:]) {
        self.kind = kind
        self.inputs = inputs
    }
}

/// A check another check depends on, with where it was named.
public struct CheckDependency: Sendable, Equatable {
    public var check: String
    public var location: SourceLocation

    public init(check: String, location: SourceLocation) {
        self.check = check
        self.location = location
    }
}

/// The runbook a check starts, with its parameters.
public struct CheckAction: Sendable, Equatable {
    public var runbook: String
    public var params: [String: String]
    public var location: SourceLocation

    public init(runbook: String, params: [String: String] = [:], location: SourceLocation) {
        self.runbook = runbook
        self.params = params
        self.location = location
    }
}

/// What a check reports.
public enum CheckStatus: String, Sendable, CaseIterable, Codable, Comparable {
    case healthy, warning, critical, unknown
    /// Outside the hours the check means something in.
    case idle

    /// The exit code monitoring plugins use: 0 OK, 1 warning, 2 critical, 3 unknown.
    public var pluginExitCode: Int32 {
        switch self {
        case .healthy, .idle: 0
        case .warning: 1
        case .critical: 2
        case .unknown: 3
        }
    }

    /// Whether the state asks for attention.
    public var isBad: Bool { self == .warning || self == .critical }

    private var rank: Int {
        switch self {
        case .idle: 0
        case .healthy: 1
        case .unknown: 2
        case .warning: 3
        case .critical: 4
        }
    }

    public static func < (lhs: CheckStatus, rhs: CheckStatus) -> Bool { lhs.rank < rhs.rank }
}

/// A limit on a measured value: `> 300s`, `< 52`, `<= 10%`.
public struct Threshold: Sendable, Equatable, CustomStringConvertible {
    public enum Comparison: String, Sendable, CaseIterable {
        case above = ">", atLeast = ">=", below = "<", atMost = "<=", equal = "==", notEqual = "!="
    }

    public var comparison: Comparison
    /// Seconds for durations, the number for counts and percentages.
    public var limit: Double
    /// The limit as written, for reports.
    public var text: String

    public init(_ comparison: Comparison, _ limit: Double, text: String? = nil) {
        self.comparison = comparison
        self.limit = limit
        self.text = text ?? "\(comparison.rawValue) \(Self.number(limit))"
    }

    /// Whether `value` crosses the limit.
    public func isCrossed(by value: Double) -> Bool {
        switch comparison {
        case .above: value > limit
        case .atLeast: value >= limit
        case .below: value < limit
        case .atMost: value <= limit
        case .equal: value == limit
        case .notEqual: value != limit
        }
    }

    public var description: String { text }

    /// Reads `> 300s`, `< 52`, `<= 10%`, `== 0`; nil when the text is not a threshold.
    public static func parse(_ text: String) -> Threshold? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let ordered = Comparison.allCases.sorted { $0.rawValue.count > $1.rawValue.count }
        guard let comparison = ordered.first(where: { trimmed.hasPrefix($0.rawValue) }) else { return nil }
        var amount = trimmed.dropFirst(comparison.rawValue.count).trimmingCharacters(in: .whitespaces)
        if amount.hasSuffix("%") { amount.removeLast() }
        let limit: Double
        if let number = Double(amount) {
            limit = number
        } else if let duration = DurationText.parse(amount) {
            limit = duration.seconds
        } else {
            return nil
        }
        return Threshold(comparison, limit, text: "\(comparison.rawValue) \(trimmed.dropFirst(comparison.rawValue.count).trimmingCharacters(in: .whitespaces))")
    }

    static func number(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}

/// One evaluation of a check.
public struct CheckResult: Sendable, Equatable {
    public var check: String
    public var status: CheckStatus
    public var value: Double?
    /// The measurement, or why there is none, for people.
    public var text: String
    public var subject: String?
    /// The limit that decided the status, or both limits when it is healthy.
    public var threshold: String
    public var at: Date

    public init(check: String, status: CheckStatus, value: Double?, text: String, subject: String? = nil, threshold: String, at: Date) {
        self.check = check
        self.status = status
        self.value = value
        self.text = text
        self.subject = subject
        self.threshold = threshold
        self.at = at
    }
}
