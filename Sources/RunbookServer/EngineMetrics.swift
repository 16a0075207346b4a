import CoreMetrics
import Foundation
import Prometheus
import RunbookChecks
import RunbookCore
import RunbookEscalation
import RunbookExecutor
import RunbookFlows
import RunbookModel
import Synchronization

/// The engine's Prometheus metrics. Counters the engine keeps anyway (messages, malformed,
/// ticks) are brought up to date from a snapshot when `/metrics` is read; fires, their latency,
/// runs and steps are observed as they happen, through `FlowStore` and `RunObserver` wrappers.
public final class EngineMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry

    static var messages: MetricNameDescriptor { descriptor("flow_messages", "total", "Messages a flow received (direction in) or sent on (direction out).") }
    static var malformed: MetricNameDescriptor { descriptor("flow_malformed", "total", "Malformed messages a flow dropped, by reason.") }
    static var refused: MetricNameDescriptor { descriptor("flow_refused", "total", "Peers a flow refused, by reason: no or an unknown CURVE key, an address outside the allowlist, a routing id the key may not use.") }
    static var exposed: MetricNameDescriptor { descriptor("flows_open_to_anyone", "", "1 while flows bound beyond loopback accept anyone (neither CURVE nor an allowlist), else 0.") }
    static var fires: MetricNameDescriptor { descriptor("fires", "total", "Fires by the status they reached: queued, sent, filled or failed.") }
    static var fireLatency: MetricNameDescriptor { descriptor("fire_latency", "seconds", "Time from a fire being queued until it was sent to its EA (to=sent) or filled (to=filled).") }
    static var ticksStored: MetricNameDescriptor { descriptor("ticks_stored", "total", "Ticks written to the tick store.") }
    static var ticksSpooled: MetricNameDescriptor { descriptor("ticks_spooled", "total", "Ticks written to the disk spool while the tick store was unavailable.") }
    static var flowRecordsWaiting: MetricNameDescriptor { descriptor("flow_records_spooled", "", "The flows' records (signals, fires, trades) waiting in the spool for the records to answer.") }
    static var flowRecordsReplayed: MetricNameDescriptor { descriptor("flow_records_replayed", "total", "The flows' records written from the spool once the records answered.") }
    static var runs: MetricNameDescriptor { descriptor("runs", "total", "Runs that ended, by runbook and status.") }
    static var stepDuration: MetricNameDescriptor { descriptor("step_duration", "seconds", "Duration of steps that ended, by primitive and status.") }
    static var checkStatus: MetricNameDescriptor { descriptor("check_status", "", "1 for the status each check is in now, 0 for the others.") }
    static var serviceUp: MetricNameDescriptor { descriptor("service_up", "", "1 when the service is running with its ports bound, else 0.") }
    static var serviceRestarts: MetricNameDescriptor { descriptor("service_restarts", "", "Restarts of the service within its restart policy's window.") }
    static var incidentsOpen: MetricNameDescriptor { descriptor("incidents_open", "", "Incidents not resolved, by escalation level and status (open or acknowledged).") }
    static var outboxMessages: MetricNameDescriptor { descriptor("outbox_messages", "", "Notifications in the outbox by channel and state: pending and sending ones wait to go out; uncertain and rejected ones wait for a person.") }

    static let latencyBuckets: [Duration] = [
        .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
        .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10), .seconds(30),
    ]
    static let stepBuckets: [Duration] = [
        .milliseconds(10), .milliseconds(50), .milliseconds(100), .milliseconds(500), .seconds(1), .seconds(5), .seconds(10),
        .seconds(30), .seconds(60), .seconds(300), .seconds(900),
    ]

    private static func descriptor(_ name: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "runbook", metricName: name, unitName: unit, helpText: help)
    }

    /// The last totals copied from a snapshot, per series, so counters move by the difference.
    private let copied = Mutex<[String: Int]>([:])
    /// When each fire in flight was queued, to measure its latency.
    private let queuedAt = Mutex<[String: ContinuousClock.Instant]>([:])
    /// Channels the outbox gauges were set for, so one that empties is set back to 0.
    private let shownChannels = Mutex<Set<String>>([])
    /// Fires in flight remembered at most; the oldest are forgotten beyond this.
    static let inFlightLimit = 10_000

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        // Families that exist before anything happens, so a scrape shows them from the start.
        for status in ["queued", "sent", "filled", "failed"] { _ = registry.makeCounter(descriptor: Self.fires, labels: [("status", status)]) }
        for stage in ["sent", "filled"] {
            _ = registry.makeDurationHistogram(descriptor: Self.fireLatency, labels: [("to", stage)], buckets: Self.latencyBuckets)
        }
        _ = registry.makeCounter(descriptor: Self.ticksStored)
        _ = registry.makeCounter(descriptor: Self.ticksSpooled)
    }

    /// Makes this registry the process's swift-metrics backend, so that metrics any library
    /// records through swift-metrics are on `/metrics` too. Once per process (`runbook up`).
    public func bootstrapSwiftMetrics() {
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
    }

    // MARK: Observed

    func fire(_ status: String) {
        registry.makeCounter(descriptor: Self.fires, labels: [("status", status)]).increment()
    }

    func fireQueued(_ id: String) {
        fire("queued")
        queuedAt.withLock { table in
            if table.count >= Self.inFlightLimit, let oldest = table.min(by: { $0.value < $1.value })?.key { table[oldest] = nil }
            table[id] = .now
        }
    }

    func fireSent(_ id: String) {
        fire("sent")
        if let queued = queuedAt.withLock({ $0[id] }) {
            registry.makeDurationHistogram(descriptor: Self.fireLatency, labels: [("to", "sent")], buckets: Self.latencyBuckets).record(.now - queued)
        }
    }

    func fireEnded(_ id: String, filled: Bool) {
        fire(filled ? "filled" : "failed")
        let queued = queuedAt.withLock { $0.removeValue(forKey: id) }
        if filled, let queued {
            registry.makeDurationHistogram(descriptor: Self.fireLatency, labels: [("to", "filled")], buckets: Self.latencyBuckets).record(.now - queued)
        }
    }

    func runEnded(runbook: String, status: String) {
        registry.makeCounter(descriptor: Self.runs, labels: [("runbook", runbook), ("status", status)]).increment()
    }

    func stepEnded(primitive: String, status: String, duration: Duration) {
        registry.makeDurationHistogram(descriptor: Self.stepDuration, labels: [("primitive", primitive), ("status", status)], buckets: Self.stepBuckets)
            .record(duration)
    }

    // MARK: Copied from snapshots

    /// Brings the counters and gauges kept elsewhere up to date.
    public func refresh(engine: EngineSnapshot?, checks: HealthReport?) {
        if let engine {
            for service in engine.services {
                registry.makeGauge(descriptor: Self.serviceUp, labels: [("service", service.name), ("kind", service.kind.rawValue)]).set(to: service.isUp ? 1.0 : 0.0)
                registry.makeGauge(descriptor: Self.serviceRestarts, labels: [("service", service.name)]).set(to: Double(service.restarts))
                guard service.kind == .flow else { continue }
                advance(Self.messages, [("flow", service.name), ("direction", "in")], to: service.received ?? 0)
                advance(Self.messages, [("flow", service.name), ("direction", "out")], to: service.sent ?? 0)
                for (reason, count) in service.malformed ?? [:] {
                    advance(Self.malformed, [("flow", service.name), ("reason", reason)], to: count)
                }
                for (reason, count) in service.refused ?? [:] {
                    advance(Self.refused, [("flow", service.name), ("reason", reason)], to: count)
                }
            }
            registry.makeGauge(descriptor: Self.exposed).set(to: engine.exposure == nil ? 0.0 : 1.0)
            if let flowRecords = engine.flowRecords {
                registry.makeGauge(descriptor: Self.flowRecordsWaiting).set(to: Double(flowRecords.waiting))
                advance(Self.flowRecordsReplayed, [], to: flowRecords.replayed)
            }
            if let ticks = engine.ticks {
                advance(Self.ticksStored, [], to: ticks.stored)
                advance(Self.ticksSpooled, [], to: ticks.spooled)
            }
        }
        for item in checks?.checks ?? [] {
            for status in CheckStatus.allCases {
                registry.makeGauge(descriptor: Self.checkStatus, labels: [("check", item.name), ("status", status.rawValue)])
                    .set(to: item.status == status ? 1.0 : 0.0)
            }
        }
    }

    /// Incidents open by level and the outbox's depth, from what the records hold now. Every
    /// level and every configured channel's states are set, to 0 when empty, so a series that
    /// empties shows 0 rather than its last value.
    public func refresh(incidents: [Incident], outbox: [OutboxDepth], channels: [String]) {
        for level in 1...4 {
            for status in [IncidentStatus.open, .acknowledged] {
                let count = incidents.filter { $0.level == level && $0.status == status }.count
                registry.makeGauge(descriptor: Self.incidentsOpen, labels: [("level", String(level)), ("status", status.rawValue)]).set(to: Double(count))
            }
        }
        let waiting: [OutboxEntry.State] = [.pending, .sending, .uncertain, .rejected]
        let named = Set(channels + outbox.map(\.channel) + shownChannels.withLock { $0 })
        shownChannels.withLock { $0 = named }
        for channel in named.sorted() {
            for state in waiting {
                let count = outbox.first { $0.channel == channel && $0.state == state }?.count ?? 0
                registry.makeGauge(descriptor: Self.outboxMessages, labels: [("channel", channel), ("state", state.rawValue)]).set(to: Double(count))
            }
        }
    }

    /// Moves a counter up to `total`; a total that went down (a restarted count) is added whole.
    private func advance(_ descriptor: MetricNameDescriptor, _ labels: [(String, String)], to total: Int) {
        let key = descriptor.name + labels.map { "|\($0.0)=\($0.1)" }.joined()
        let step = copied.withLock { copied in
            let last = copied[key] ?? 0
            copied[key] = total
            return total >= last ? total - last : total
        }
        let counter = labels.isEmpty ? registry.makeCounter(descriptor: descriptor) : registry.makeCounter(descriptor: descriptor, labels: labels)
        if step > 0 { counter.increment(by: Int64(step)) }
    }

    /// The text format Prometheus scrapes.
    public func exposition() -> [UInt8] {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(8192)
        registry.emit(into: &buffer)
        return buffer
    }
}

/// A `FlowStore` that also counts fires and times their way from queued to sent and filled.
public struct MeteredFlowStore: FlowStore {
    let store: any FlowStore
    let metrics: EngineMetrics

    public init(_ store: any FlowStore, metrics: EngineMetrics) {
        self.store = store
        self.metrics = metrics
    }

    public func recordHeartbeats(target: String, account: String?, at date: Date, count: Int) throws {
        try store.recordHeartbeats(target: target, account: account, at: date, count: count)
    }

    public func recordSignal(_ signal: FlowMessage.Signal, at date: Date) throws {
        try store.recordSignal(signal, at: date)
    }

    public func fireTarget(id: String) throws -> String? {
        try store.fireTarget(id: id)
    }

    public func recordFireQueued(_ fire: FlowMessage.Fire, at date: Date) throws -> Bool {
        let fresh = try store.recordFireQueued(fire, at: date)
        if fresh { metrics.fireQueued(fire.id) }
        return fresh
    }

    public func recordFireSent(id: String, at date: Date) throws {
        try store.recordFireSent(id: id, at: date)
        metrics.fireSent(id)
    }

    public func recordFireFailed(id: String, reason: String, at date: Date) throws {
        try store.recordFireFailed(id: id, reason: reason, at: date)
        metrics.fireEnded(id, filled: false)
    }

    public func recordConfirmation(_ confirmation: FlowMessage.Confirmation, at date: Date) throws -> ConfirmationOutcome {
        let outcome = try store.recordConfirmation(confirmation, at: date)
        if outcome == .applied { metrics.fireEnded(confirmation.fireID, filled: confirmation.filled) }
        return outcome
    }

    public func recordClose(_ close: FlowMessage.Close, at date: Date) throws -> Bool {
        try store.recordClose(close, at: date)
    }

    public func recordProbe(id: String, at date: Date) throws {
        try store.recordProbe(id: id, at: date)
    }

    public func recordPositions(_ report: FlowMessage.Positions, at date: Date) throws {
        try store.recordPositions(report, at: date)
    }
}

/// Counts runs by runbook and status and times steps by primitive, for `/metrics`; passes
/// everything on to another observer when there is one.
public struct MeteredRunObserver: RunObserver {
    let metrics: EngineMetrics
    let next: (any RunObserver)?

    public init(metrics: EngineMetrics, next: (any RunObserver)? = nil) {
        self.metrics = metrics
        self.next = next
    }

    public func runStarted(id: Int64, runbook: Runbook, trigger: Trigger) {
        next?.runStarted(id: id, runbook: runbook, trigger: trigger)
    }

    public func attemptStarted(step: Step, attempt: Int) {
        next?.attemptStarted(step: step, attempt: attempt)
    }

    public func stepFinished(step: Step, report: StepReport) {
        if report.status != .skipped { metrics.stepEnded(primitive: step.primitive, status: report.status.rawValue, duration: report.duration) }
        next?.stepFinished(step: step, report: report)
    }

    public func runFinished(report: RunReport) {
        metrics.runEnded(runbook: report.runbook, status: report.status.rawValue)
        next?.runFinished(report: report)
    }
}
