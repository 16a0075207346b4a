/// How a supervised service is restarted: a first wait that doubles up to a cap, and a budget of
/// restarts in a sliding window, so that slow crash loops are caught as well as fast ones.
public struct RestartPolicy: Sendable, Equatable {
    /// Wait before the first restart.
    public var wait: Duration
    /// Cap on the doubled wait.
    public var maxWait: Duration
    /// Restarts allowed within `window`; when spent, the service gives up.
    public var budget: Int
    public var window: Duration
    /// Up this long without a crash, the service's restart count starts again from zero.
    public var stableAfter: Duration

    public init(wait: Duration = .seconds(30), maxWait: Duration = .seconds(300), budget: Int = 3, window: Duration = .seconds(3600), stableAfter: Duration = .seconds(3600)) {
        self.wait = wait
        self.maxWait = maxWait
        self.budget = budget
        self.window = window
        self.stableAfter = stableAfter
    }

    /// The wait before restart number `restart` (1, 2, ...) of a crash loop.
    public func delay(beforeRestart restart: Int) -> Duration {
        min(wait * (1 << min(max(0, restart - 1), 20)), maxWait)
    }
}

/// The restarts of one service, on the clock the supervisor runs on.
public struct RestartBudget<C: Clock>: Sendable where C.Duration == Duration {
    public let policy: RestartPolicy
    private(set) var restarts: [C.Instant] = []

    public init(policy: RestartPolicy) {
        self.policy = policy
    }

    /// Restarts within the window before `now`.
    public func used(at now: C.Instant) -> Int {
        restarts.filter { $0.duration(to: now) < policy.window }.count
    }

    /// Notes a crash of a service that had been up since `upSince`. Returns the wait before the
    /// restart, or nil when the budget is spent and the service should give up.
    public mutating func crashed(at now: C.Instant, upSince: C.Instant) -> Duration? {
        if upSince.duration(to: now) >= policy.stableAfter { restarts = [] }
        restarts = restarts.filter { $0.duration(to: now) < policy.window }
        guard restarts.count < policy.budget else { return nil }
        restarts.append(now)
        return policy.delay(beforeRestart: restarts.count)
    }

    /// Takes a restart an operator or a runbook asks for from the budget; false when the
    /// budget is spent.
    public mutating func requested(at now: C.Instant) -> Bool {
        restarts = restarts.filter { $0.duration(to: now) < policy.window }
        guard restarts.count < policy.budget else { return false }
        restarts.append(now)
        return true
    }

    /// Starts the count afresh (an operator's `reset restart counters`).
    public mutating func reset() {
        restarts = []
    }
}
