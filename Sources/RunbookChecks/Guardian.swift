import Foundation
import Logging
import RunbookCore
import RunbookExecutor
import RunbookModel
import RunbookSteps
import ServiceLifecycle
import Synchronization

/// Where the guardian writes what happens to checks: state changes, and the alerts they open
/// and clear. The SQLite adapter implements it.
public protocol CheckJournal: Sendable {
    func recordChange(check: String, from: CheckStatus, to: CheckStatus, result: CheckResult, flapping: Bool) async throws
}

/// Where the guardian reports what the escalation policy acts on: state changes, and the runs
/// it started (whose outcome may raise an incident); and every reading, which the messages of an
/// incident give.
public protocol CheckIncidents: Sendable {
    func checkEvaluated(_ result: CheckResult)
    func checkChanged(_ check: Check, to status: CheckStatus, result: CheckResult) async throws
    func runStarted(by check: Check, run: RunLauncher.Launched)
    /// Why the runbooks of `check` wait at `at` (a maintenance window in force that holds runs),
    /// or nil when they may start.
    func runsHeld(of check: String, at: Date) async -> String?
    /// A run of `check` was held back for `reason` (what `runsHeld` said): for its incident's timeline.
    func runHeld(by check: Check, runbook: String, reason: String) async
}

extension CheckIncidents {
    public func runsHeld(of check: String, at: Date) async -> String? { nil }
    public func runHeld(by check: Check, runbook: String, reason: String) async {}
}

/// The checks of a configuration, by name, with what evaluates them: for `runbook check` and the
/// `check` and `wait_until` steps.
public final class CheckBook: CheckRunning, Sendable {
    public let evaluator: CheckEvaluator
    private let load: @Sendable () -> [Check]
    private let loaded = Mutex<[Check]?>(nil)

    public init(checks: [Check], evaluator: CheckEvaluator) {
        self.load = { checks }
        self.evaluator = evaluator
    }

    /// Checks read only when a step first asks for one, so that a run that evaluates none does
    /// not read the checks folder.
    public init(loading: @escaping @Sendable () -> [Check], evaluator: CheckEvaluator) {
        self.load = loading
        self.evaluator = evaluator
    }

    public var checks: [Check] {
        loaded.withLock { loaded in
            if let loaded { return loaded }
            let checks = load()
            loaded = checks
            return checks
        }
    }

    public func check(named name: String) throws -> Check {
        let checks = self.checks
        guard let check = checks.first(where: { $0.name == name }) else {
            throw ProbeFailure("no check named '\(name)'\(Suggestion.hint(for: name, in: checks.map(\.name))); checks: \(checks.map(\.name).joined(separator: ", "))")
        }
        return check
    }

    public func evaluate(_ name: String) async throws -> CheckResult {
        await evaluator.evaluate(try check(named: name))
    }

    public func evaluateAll() async -> [CheckResult] {
        await evaluator.evaluate(all: checks)
    }
}

/// A check's state for the health file and the API.
public struct CheckEntry: Sendable {
    public var check: Check
    public var status: CheckStatus
    public var since: Date?
    public var last: CheckResult?
    public var flapping: Bool
    public var lastTrigger: Date?

    public init(check: Check, status: CheckStatus, since: Date? = nil, last: CheckResult? = nil, flapping: Bool = false, lastTrigger: Date? = nil) {
        self.check = check
        self.status = status
        self.since = since
        self.last = last
        self.flapping = flapping
        self.lastTrigger = lastTrigger
    }
}

/// Evaluates every check on its own interval, keeps its state with hysteresis, starts the check's
/// runbook when it turns critical (or warning, when it says so), and writes the health file.
public final class Guardian<C: Clock>: Service, Sendable where C.Duration == Duration {
    /// Why a state change did or did not start a runbook, for the log and tests.
    public enum Decision: Sendable, Equatable {
        case started(runbook: String)
        case flapping, alreadyRunning, coolingDown, failedToStart(String)
        /// A maintenance window holds the check's runs: the reason names it and its end.
        case held(String)
    }

    private let book: CheckBook
    private let launcher: RunLauncher?
    private let journal: (any CheckJournal)?
    private let incidents: (any CheckIncidents)?
    private let clock: C
    private let logger: Logger
    private let healthFile: String?
    private let healthInterval: Duration
    private let now: @Sendable () -> Date
    private let leadership: any Leadership
    /// Per check: its state, when it last started its runbook, and the bad states of the
    /// current episode whose runbook has started (an episode ends when the check is healthy or
    /// idle again; `unknown` does not end it).
    private let entries: Mutex<[String: (tracker: CheckTracker, lastTrigger: Date?, handled: Set<CheckStatus>)]>
    /// Health file writes, one at a time.
    private let writing = Mutex(())
    /// Per check, what the records could not take yet (they were unreachable): its changes, in
    /// order, and the incident desk's news of its state. Tried again at each evaluation, so
    /// nothing a records outage hides is lost while the engine runs.
    private let unsaid = Mutex<[String: Unsaid]>([:])

    private struct Unsaid: Sendable {
        var changes: [(from: CheckStatus, to: CheckStatus, result: CheckResult, flapping: Bool)] = []
        var incident: (status: CheckStatus, result: CheckResult)?
    }

    /// How many changes of one check wait at most for the records; older ones are dropped first.
    static var unsaidLimit: Int { 1000 }
    /// Told of each decision a change leads to.
    private let onDecision: @Sendable (String, Decision) -> Void

    public init(
        book: CheckBook, launcher: RunLauncher?, journal: (any CheckJournal)?, incidents: (any CheckIncidents)? = nil, clock: C, logger: Logger, healthFile: String? = nil,
        healthInterval: Duration = .seconds(30), now: @escaping @Sendable () -> Date = { Date() }, leadership: any Leadership = SoleEngine(),
        onDecision: @escaping @Sendable (String, Decision) -> Void = { _, _ in }
    ) {
        self.book = book
        self.launcher = launcher
        self.journal = journal
        self.incidents = incidents
        self.clock = clock
        self.logger = logger
        self.healthFile = healthFile
        self.healthInterval = healthInterval
        self.now = now
        self.leadership = leadership
        self.onDecision = onDecision
        entries = Mutex(Dictionary(uniqueKeysWithValues: book.checks.map { ($0.name, (CheckTracker(check: $0), nil, [])) }))
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                for check in self.book.checks {
                    group.addTask { await self.watch(check) }
                }
                if self.healthFile != nil {
                    group.addTask {
                        while !Task.isCancelled {
                            self.writeHealthFile()
                            do { try await self.clock.sleep(for: self.healthInterval) } catch { return }
                        }
                    }
                }
            }
        }
        writeHealthFile()
    }

    /// Evaluates one check on its interval until cancelled; a slow probe delays only its own check.
    private func watch(_ check: Check) async {
        var led = true
        while !Task.isCancelled {
            let due = clock.now.advanced(by: check.interval)
            // A shared check is the leader's: a standby waits, and evaluates it afresh once it
            // leads (what it read when it last led may be long past; another engine has led since).
            let leads = !check.shared || leadership.isLeading
            if leads, !led { entries.withLock { $0[check.name] = (CheckTracker(check: check), nil, []) } }
            led = leads
            if leads { await evaluateOnce(check) }
            do { try await clock.sleep(until: due, tolerance: nil) } catch { return }
        }
    }

    /// Evaluates `check` once, acts on a change of state, and starts the runbook of a bad state
    /// that has not started it yet in this episode (held back before by a run still going, the
    /// cooldown or flapping, it is tried again at every evaluation).
    public func evaluateOnce(_ check: Check) async {
        let result = await book.evaluator.evaluate(check)
        incidents?.checkEvaluated(result)
        let (change, status, flapping, handled) = entries.withLock { entries -> (CheckTracker.Change?, CheckStatus, Bool, Bool) in
            let change = entries[check.name]!.tracker.record(result)
            let status = entries[check.name]!.tracker.status
            if status == .healthy || status == .idle { entries[check.name]!.handled = [] }
            return (change, status, entries[check.name]!.tracker.flapping, entries[check.name]!.handled.contains(status))
        }
        if let change {
            let subject = result.subject.map { " [\($0)]" } ?? ""
            let message = "check \(check.name) \(change.from.rawValue) -> \(change.to.rawValue)\(subject): \(result.text) (\(result.threshold))"
            switch change.to {
            case .critical: logger.error("\(message)", metadata: ["check": "\(check.name)"])
            case .warning: logger.warning("\(message)", metadata: ["check": "\(check.name)"])
            default: logger.notice("\(message)", metadata: ["check": "\(check.name)"])
            }
            await say(check, change: (change.from, change.to, result, flapping), status: change.to, result: result)
        } else {
            await say(check, change: nil, status: status, result: result)
        }
        let action = status == .critical ? check.onCritical : status == .warning ? check.onWarning : nil
        if let action, !handled {
            // Why nothing started is said once, on the change; the retries are quiet. A run a
            // maintenance window holds starts at the first evaluation after it ends.
            let decision: Decision
            if let held = await incidents?.runsHeld(of: check.name, at: now()) {
                if change != nil {
                    logger.notice("check \(check.name): \(action.runbook) not started: \(held)", metadata: ["check": "\(check.name)"])
                    await incidents?.runHeld(by: check, runbook: action.runbook, reason: held)
                }
                decision = .held(held)
            } else {
                decision = trigger(check, action: action, flapping: flapping, quiet: change == nil)
            }
            if case .started = decision {
                _ = entries.withLock { $0[check.name]?.handled.insert(status) }
            }
            if change != nil || decision == .started(runbook: action.runbook) { onDecision(check.name, decision) }
        }
        if change != nil, healthFile != nil { writeHealthFile() }
    }

    /// Records `change` and tells the incident desk, after whatever the records could not take
    /// before; what they cannot take now waits for the next evaluation. With no change, only
    /// what waits is tried (the desk with the check's latest reading).
    private func say(
        _ check: Check, change: (from: CheckStatus, to: CheckStatus, result: CheckResult, flapping: Bool)?, status: CheckStatus, result: CheckResult
    ) async {
        var pending = unsaid.withLock { $0.removeValue(forKey: check.name) } ?? Unsaid()
        let waited = !pending.changes.isEmpty || pending.incident != nil
        if let change {
            pending.changes.append(change)
            pending.incident = (change.to, result)
        } else if pending.incident != nil {
            pending.incident = (status, result)
        }
        guard change != nil || waited else { return }
        var written = 0
        while let first = pending.changes.first {
            do {
                try await journal?.recordChange(check: check.name, from: first.from, to: first.to, result: first.result, flapping: first.flapping)
                pending.changes.removeFirst()
                written += 1
            } catch {
                if !waited { logger.error("cannot record the change of check \(check.name): \(error); it waits, and is recorded when the records answer") }
                break
            }
        }
        if pending.changes.count > Self.unsaidLimit { pending.changes.removeFirst(pending.changes.count - Self.unsaidLimit) }
        if let (status, reading) = pending.incident {
            do {
                try await incidents?.checkChanged(check, to: status, result: reading)
                pending.incident = nil
            } catch {
                if !waited { logger.error("cannot update the incident of check \(check.name): \(error); tried again at each evaluation", metadata: ["check": "\(check.name)"]) }
            }
        }
        if waited, pending.changes.isEmpty, pending.incident == nil {
            logger.notice("the records answer again: \(written) change(s) of check \(check.name) recorded late, its incident told", metadata: ["check": "\(check.name)"])
        }
        if !pending.changes.isEmpty || pending.incident != nil { unsaid.withLock { $0[check.name] = pending } }
    }

    /// Starts the check's runbook unless it is flapping, one of its runs is still going, or the
    /// last it started is within the cooldown.
    private func trigger(_ check: Check, action: CheckAction, flapping: Bool, quiet: Bool) -> Decision {
        let key = "check:\(check.name)"
        guard let launcher else { return .failedToStart("no runbooks in this engine") }
        if flapping {
            if !quiet { logger.warning("check \(check.name) is flapping: not starting \(action.runbook)", metadata: ["check": "\(check.name)"]) }
            return .flapping
        }
        if !launcher.running(key).isEmpty {
            if !quiet { logger.notice("check \(check.name): \(action.runbook) is still running from before; not starting another", metadata: ["check": "\(check.name)"]) }
            return .alreadyRunning
        }
        let at = now()
        if let last = entries.withLock({ $0[check.name]?.lastTrigger }), at.timeIntervalSince(last) < check.cooldown.seconds {
            if !quiet { logger.notice("check \(check.name): \(action.runbook) started \(Age.text(at.timeIntervalSince(last))) ago, within the cooldown of \(DurationText.format(check.cooldown)); it starts when the cooldown ends if the check is still bad then", metadata: ["check": "\(check.name)"]) }
            return .coolingDown
        }
        do {
            // Bound like `runbook run --param`: defaults filled in, types checked.
            let run = try launcher.start(action.runbook, arguments: action.params, trigger: .check, origin: RunOrigin(source: check.name), key: key)
            incidents?.runStarted(by: check, run: run)
            entries.withLock { $0[check.name]?.lastTrigger = at }
            logger.notice("check \(check.name): started \(action.runbook)", metadata: ["check": "\(check.name)"])
            return .started(runbook: action.runbook)
        } catch {
            if !quiet { logger.error("check \(check.name): \(error)", metadata: ["check": "\(check.name)"]) }
            return .failedToStart("\(error)")
        }
    }

    /// Every check's state, by name.
    public var states: [CheckEntry] {
        entries.withLock { entries in
            book.checks.compactMap { check in
                guard let entry = entries[check.name] else { return nil }
                return CheckEntry(
                    check: check, status: entry.tracker.status, since: entry.tracker.since, last: entry.tracker.last,
                    flapping: entry.tracker.flapping, lastTrigger: entry.lastTrigger
                )
            }
        }
    }

    /// Writes the health file: every check's state and the worst of them, atomically.
    public func writeHealthFile() {
        guard let healthFile else { return }
        let report = HealthReport(updatedAt: now(), entries: states)
        guard let data = try? HealthReport.encoder.encode(report) else { return }
        writing.withLock { _ in
            let temporary = healthFile + ".tmp"
            if FileManager.default.createFile(atPath: temporary, contents: data) { rename(temporary, healthFile) }
        }
    }
}

/// The health file: what `runbook check` reads for how long a state has lasted, and what the
/// HTTP health endpoints serve.
public struct HealthReport: Sendable, Codable {
    public struct Item: Sendable, Codable {
        public var name: String
        public var status: CheckStatus
        public var since: Date?
        public var value: Double?
        public var text: String?
        public var subject: String?
        public var threshold: String
        public var flapping: Bool
        public var evaluatedAt: Date?
        public var lastTriggeredAt: Date?
        public var onCritical: String?
    }

    public var updatedAt: Date
    /// The worst status of any check; healthy when there are none.
    public var status: CheckStatus
    public var checks: [Item]

    public init(updatedAt: Date, entries: [CheckEntry]) {
        self.updatedAt = updatedAt
        checks = entries.map { entry in
            Item(
                name: entry.check.name, status: entry.status, since: entry.since, value: entry.last?.value.flatMap { $0.isFinite ? $0 : nil },
                text: entry.last?.text, subject: entry.last?.subject, threshold: CheckEvaluator.limits(of: entry.check), flapping: entry.flapping,
                evaluatedAt: entry.last?.at, lastTriggeredAt: entry.lastTrigger, onCritical: entry.check.onCritical?.runbook
            )
        }
        status = checks.map(\.status).max() ?? .healthy
    }

    public static var encoder: JSONEncoder { EngineSnapshot.encoder }
    public static var decoder: JSONDecoder { EngineSnapshot.decoder }
}
