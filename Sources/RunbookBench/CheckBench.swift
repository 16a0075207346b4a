import Foundation
import Logging
import RunbookApp
import RunbookChecks
import RunbookCore
import RunbookExecutor
import RunbookFlows
import RunbookModel
import RunbookSQLite
import RunbookSteps
import Synchronization

/// The guardian's costs: one cycle of every shipped check, and how long a fault takes to change
/// a check's state and to start its runbook.
struct CheckBench {
    let folder: URL

    /// A value the bench sets, read by checks as a probe.
    struct Dial: Probe {
        static let spec = ProbeSpec(name: "dial", summary: "a value the bench sets", unit: .number)
        static let value = Atomic<Int>(0)
        init(inputs: [String: Value]) throws(ProbeInputError) {}
        func read(in environment: EngineServices) async throws -> ProbeReading {
            ProbeReading(value: Double(Self.value.load(ordering: .relaxed)), text: "")
        }
    }

    /// An engine of four flows and two programs, all running, as the probes see it.
    struct QuietEngine: EngineControl {
        func snapshot() async throws -> EngineSnapshot {
            let names = ["telemetry-bridge", "signal-relay", "command-router", "confirmation-listener", "signal-engine", "web-app"]
            let services = names.enumerated().map { index, name in
                ServiceSnapshot(name: name, kind: index < 4 ? .flow : .process, state: .running, restarts: 0, since: Date(), ports: [5555 + index])
            }
            return EngineSnapshot(pid: 1, startedAt: Date(), updatedAt: Date(), services: services, ticks: TickSnapshot(lastTickAt: Date(), lastMinute: 1200))
        }

        func restart(_ service: String) async throws {}
        func serviceNames() async throws -> [String] { [] }
    }

    /// Times when changes were recorded and runs started.
    final class Stamps: CheckJournal, RunObserver, @unchecked Sendable {
        let changes = Mutex<[ContinuousClock.Instant]>([])
        let starts = Mutex<[ContinuousClock.Instant]>([])

        func recordChange(check: String, from: CheckStatus, to: CheckStatus, result: CheckResult, flapping: Bool) throws {
            if to == .critical { changes.withLock { $0.append(.now) } }
        }

        func runStarted(id: Int64, runbook: Runbook, trigger: Trigger) { starts.withLock { $0.append(.now) } }
        func attemptStarted(step: Step, attempt: Int) {}
        func stepFinished(step: Step, report: StepReport) {}
        func runFinished(report: RunReport) {}
    }

    func run() async throws {
        try await cycle()
        try await faultToRun()
    }

    /// Every shipped check evaluated once, in parallel as the guardian does, over records of a
    /// busy day; against as many checks of a probe that only reads a number.
    func cycle() async throws {
        let records = try RecordsDatabase(path: folder.appendingPathComponent("checks.db").path).flows
        let now = Date()
        try records.recordHeartbeats(target: "ea-01", account: "1", at: now, count: 1)
        try records.recordHeartbeats(target: "ea-02", account: "2", at: now, count: 1)
        for index in 0..<1000 {
            let at = now.addingTimeInterval(-Double(index) * 86)
            if case .signal(let signal) = try FlowMessage.parse(#"{"type":"signal","signal_id":"S\#(index)","symbol":"EURUSD","direction":"BUY"}"#) {
                try records.recordSignal(signal, at: at)
            }
            if index < 300 {
                _ = try records.recordFireQueued(FlowMessage.Fire(id: "F\(index)", target: "ea-01", symbol: "EURUSD", direction: "BUY", lot: 0.1), at: at)
                try records.recordFireSent(id: "F\(index)", at: at)
                if case .close(let close) = try FlowMessage.parse(#"{"type":"close","fire_id":"F\#(index)","pnl":\#(index % 7 == 0 ? -3 : 5)}"#) {
                    _ = try records.recordClose(close, at: at)
                }
            }
        }
        var checks = try CheckLoader(probes: Catalog.probes).loadAll(paths: ["Checks"])
        for index in checks.indices { checks[index].duringMarket = false }
        let environment = EngineServices(
            engine: QuietEngine(), records: records, workingDirectory: folder.path, databasePath: folder.appendingPathComponent("checks.db").path
        )
        let evaluator = CheckEvaluator(probes: Catalog.probes, environment: environment)
        let dials = (0..<checks.count).map { Check(name: "dial\($0)", probe: ProbeConfig(kind: "dial"), critical: Threshold(.above, 5)) }
        let dialEvaluator = CheckEvaluator(probes: ProbeRegistry([Dial.self]), environment: environment)

        func cycles(_ checks: [Check], _ evaluator: CheckEvaluator, rounds: Int) async -> Double {
            let start = ContinuousClock.now
            for _ in 0..<rounds {
                await withTaskGroup(of: Void.self) { group in
                    for check in checks { group.addTask { _ = await evaluator.evaluate(check) } }
                }
            }
            return start.duration(to: .now).seconds / Double(rounds)
        }
        _ = await cycles(checks, evaluator, rounds: 3)
        let shipped = await cycles(checks, evaluator, rounds: 50)
        let baseline = await cycles(dials, dialEvaluator, rounds: 50)
        print("guardian cycle: \(checks.count) shipped checks evaluated once, in parallel (mean of 50)")
        print(String(format: "  shipped checks              %7.2f ms/cycle  (%.0f us per check)", shipped * 1000, shipped * 1e6 / Double(checks.count)))
        print(String(format: "  baseline, %2d constant probes %7.2f ms/cycle", dials.count, baseline * 1000))
    }

    /// A check at a 1 s interval with the default hysteresis (3 bad results): from the fault to
    /// the state change, and from the state change to the start of its runbook.
    func faultToRun() async throws {
        let stamps = Stamps()
        let check = try CheckLoader(probes: ProbeRegistry([Dial.self])).load(text: """
            name: bench
            probe: dial
            critical: "> 5"
            interval: 1s
            cooldown: 0s
            flapping: {changes: 1000, window: 1h}
            on_critical: {run: respond}
            """, file: "bench.yaml")
        let respond = try RunbookLoader(catalog: Catalog.steps).load(text: "name: respond\nsteps:\n  - id: note\n    log: {message: fault, level: debug}\n", file: "respond.yaml")
        let executor = Executor(registry: Catalog.steps, recorder: NoRecords(), lookup: { _ in respond }, observer: stamps)
        let launcher = RunLauncher(executor: executor)
        var logger = Logger(label: "bench")
        logger.logLevel = .critical
        let guardian = Guardian(
            book: CheckBook(checks: [check], evaluator: CheckEvaluator(probes: ProbeRegistry([Dial.self]), environment: EngineServices(engine: nil, records: nil))),
            launcher: launcher, journal: stamps, clock: ContinuousClock(), logger: logger
        )
        let task = Task { try await guardian.run() }
        var toChange: [Double] = []
        var toStart: [Double] = []
        for trial in 0..<5 {
            Dial.value.store(0, ordering: .relaxed)
            while guardian.states.first?.status != .healthy { try await Task.sleep(for: .milliseconds(20)) }
            // Faults come at any moment of the interval.
            try await Task.sleep(for: .milliseconds(137 * trial + 50))
            let fault = ContinuousClock.now
            Dial.value.store(10, ordering: .relaxed)
            while stamps.starts.withLock({ $0.count }) <= trial { try await Task.sleep(for: .milliseconds(5)) }
            let change = stamps.changes.withLock { $0[trial] }
            let start = stamps.starts.withLock { $0[trial] }
            toChange.append(fault.duration(to: change).seconds)
            toStart.append(change.duration(to: start).seconds)
        }
        task.cancel()
        print("fault to runbook, a check at a 1 s interval failing after 3 results (5 faults at spread moments)")
        print(String(format: "  fault to state change       %7.2f s median, %.2f s max   goal <= 4 (3 intervals + 1)", median(toChange), toChange.max() ?? 0))
        print(String(format: "  state change to run start   %7.2f ms median, %.2f ms max   goal < 100", median(toStart) * 1000, (toStart.max() ?? 0) * 1000))
    }
}
