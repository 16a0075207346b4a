import Foundation
import RunbookModel
import RunbookSteps

/// Evaluates checks: market hours, the probe under its timeout, then the thresholds.
public struct CheckEvaluator: Sendable {
    public var probes: ProbeRegistry
    public var environment: EngineServices
    public var clock: any Clock<Duration>

    public init(probes: ProbeRegistry, environment: EngineServices, clock: any Clock<Duration> = ContinuousClock()) {
        self.probes = probes
        self.environment = environment
        self.clock = clock
    }

    /// Every check at once, sorted by name.
    public func evaluate(all checks: [Check]) async -> [CheckResult] {
        await withTaskGroup(of: CheckResult.self) { group in
            for check in checks { group.addTask { await evaluate(check) } }
            return await group.reduce(into: []) { $0.append($1) }.sorted { $0.check < $1.check }
        }
    }

    public func evaluate(_ check: Check) async -> CheckResult {
        let now = environment.now()
        let limits = Self.limits(of: check)
        func result(_ status: CheckStatus, _ text: String, value: Double? = nil, subject: String? = nil, threshold: String? = nil) -> CheckResult {
            CheckResult(check: check.name, status: status, value: value, text: text, subject: subject, threshold: threshold ?? limits, at: now)
        }
        if check.duringMarket, !environment.market.isOpen(at: now) {
            return result(.idle, "market closed")
        }
        let probe: any Probe
        do {
            probe = try probes.make(check.probe)
        } catch {
            return result(.unknown, "cannot probe: \(error)")
        }
        var environment = self.environment
        if check.duringMarket { environment.sessionStart = environment.market.lastOpen(before: now) }
        let reading: ProbeReading
        do {
            reading = try await Self.withTimeout(check.timeout, clock: clock) { [environment] in try await probe.read(in: environment) }
        } catch is ProbeTimeout {
            return result(.unknown, "no answer within \(DurationText.format(check.timeout))")
        } catch {
            return result(.unknown, "cannot probe: \(error)")
        }
        if let status = reading.status {
            return result(status, reading.text, value: reading.value, subject: reading.subject)
        }
        guard let value = reading.value else { return result(.unknown, reading.text, subject: reading.subject) }
        if let critical = check.critical, critical.isCrossed(by: value) {
            return result(.critical, reading.text, value: value, subject: reading.subject, threshold: "critical \(critical)")
        }
        if let warning = check.warning, warning.isCrossed(by: value) {
            return result(.warning, reading.text, value: value, subject: reading.subject, threshold: "warning \(warning)")
        }
        return result(.healthy, reading.text, value: value, subject: reading.subject)
    }

    /// Both limits, for reports: `warning > 120s, critical > 300s`.
    public static func limits(of check: Check) -> String {
        [check.warning.map { "warning \($0)" }, check.critical.map { "critical \($0)" }].compactMap { $0 }.joined(separator: ", ")
    }

    struct ProbeTimeout: Error {}

    static func withTimeout<T: Sendable>(_ timeout: Duration, clock: any Clock<Duration>, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await clock.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let value = first else { throw ProbeTimeout() }
            return value
        }
    }
}
