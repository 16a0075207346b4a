import RunbookChecks
import Foundation
import Logging
import RunbookCore
import RunbookModel
import RunbookFlows
import RunbookStore
import RunbookZMQ
import ServiceLifecycle
import Synchronization

/// The running engine: its flows and the supervised programs, each under a supervisor, in one
/// service group that stops cleanly on SIGTERM or SIGINT. It takes its flows as a list, made once
/// the flows' access control (`flows.security`) is in force.
public final class LiveEngine: Sendable {
    public struct Settings: Sendable {
        /// The flows' endpoints and who may connect to them (`flows:` in runbook.yaml).
        public var endpoints: FlowEndpoints
        public var processes: [ProcessUnit.Spec]
        public var policy: RestartPolicy
        /// Where the engine writes its state each second, for `runbook flows`.
        public var stateFile: String?
        /// The EAs `--simulate` marked canary, for the state.
        public var simulatedCanaries: [String] = []
        /// The flows' records spooled through an outage of the records, for the state.
        public var flowRecords: (@Sendable () -> FlowRecordsSnapshot)?

        public init(endpoints: FlowEndpoints, processes: [ProcessUnit.Spec] = [], policy: RestartPolicy = RestartPolicy(), stateFile: String? = nil) {
            self.endpoints = endpoints
            self.processes = processes
            self.policy = policy
            self.stateFile = stateFile
        }

        /// The warning while flows bound beyond loopback accept anyone; nil when none do.
        var exposure: String? { endpoints.exposureWarning }
    }

    /// A start that failed, with what to do about it.
    public struct StartFailure: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    public let settings: Settings
    public let flows: [any Flow]
    private let context: ZMQContext
    private let logger: Logger
    private let supervisors: [Supervisor<ContinuousClock>]
    private let startedAt = Date()
    private let tickRate = TickRate()

    /// Stores the ticks the bridge relays, when set.
    private let ingest: TickIngest?

    /// `flows` makes the flows, in start order, given the access control they bind under (nil
    /// while flows accept anyone); `ingest` is where the ticks they relay are stored, for the
    /// engine's state.
    public init(
        settings: Settings, logger: Logger, ingest: TickIngest? = nil, flows makeFlows: (FlowAccess?) -> [any Flow],
        onServiceChange: @escaping @Sendable (Supervisor<ContinuousClock>.Status) -> Void = { _ in }
    ) throws {
        self.settings = settings
        self.logger = logger
        self.ingest = ingest
        let context = try ZMQContext()
        self.context = context
        var access: FlowAccess?
        if !settings.endpoints.security.acceptsAnyone {
            let guarding = FlowAccess(policy: try FlowAccess.Policy(settings.endpoints.security), logger: logger)
            // Before any flow binds: a guarded socket refuses every peer while no handler answers.
            try guarding.start(in: context)
            access = guarding
        }
        let flows = makeFlows(access)
        self.flows = flows
        let units: [any SupervisedUnit] = flows.map { FlowUnit($0, context: context) } + settings.processes.map { ProcessUnit($0, logger: logger) }
        supervisors = units.map { unit in
            let policy = (unit as? ProcessUnit)?.spec.policy ?? settings.policy
            return Supervisor(unit: unit, policy: policy, clock: ContinuousClock(), logger: logger, onChange: onServiceChange)
        }
    }

    /// Binds every flow and starts every program; the first failure stops what was started and
    /// is thrown, naming the port and who holds it when that is the problem.
    public func start() async throws {
        // A program's port already taken is refused now, not found out in a crash loop.
        for program in settings.processes {
            for port in program.ports where Listeners.isListening(port) {
                let holder = Listeners.holder(of: port).map { " (held by \($0))" } ?? ""
                throw StartFailure(description: "cannot start \(program.name): port \(port) is already in use\(holder); stop the other program or change its ports in runbook.yaml")
            }
        }
        for (index, supervisor) in supervisors.enumerated() {
            do {
                try supervisor.startFirst()
            } catch {
                for started in supervisors[..<index] { await started.unit.stop() }
                var message = "cannot start \(supervisor.unit.name): \(error)"
                if let zmq = error as? ZMQError, zmq.isAddressInUse {
                    if let port = zmq.endpoint.flatMap(ZMQSocket.port(of:)), let holder = Listeners.holder(of: port) { message += " (held by \(holder))" }
                    message += "; stop the other program or change the port under flows: in runbook.yaml"
                }
                throw StartFailure(description: message)
            }
        }
        CloseOnExec.sweep()
        let programs = settings.processes.isEmpty ? "" : "; supervising \(settings.processes.map(\.name).joined(separator: ", "))"
        logger.info("engine up: \(flows.map(\.name).joined(separator: ", "))\(programs)")
        if let exposure = settings.exposure { logger.warning("\(exposure)") }
    }

    /// Stops every service and program started by `start`, for a start that cannot go on.
    public func stop() async {
        for supervisor in supervisors.reversed() { await supervisor.unit.stop() }
        context.shutdown()
    }

    /// Runs until SIGTERM or SIGINT, then stops every service and program. `alongside` are the
    /// engine's other services (the scheduler, the guardian): started after the flows and
    /// programs, and stopped before them.
    public func run(alongside: [any Service] = []) async throws {
        // A group stops its services in reverse order: programs (the producers) first, then the
        // flows, which drain what is queued, then the ingest, which stores the last batch.
        var services: [any Service] = []
        if let ingest { services.append(IngestService(ingest: ingest)) }
        services += supervisors.map(SupervisionService.init)
        if let stateFile = settings.stateFile { services.append(StateFileService(engine: self, path: stateFile)) }
        services.append(CloseOnExecService())
        services += alongside
        let systemd = SystemdNotifier()
        // Last, so that it is the first told of a shutdown, and says STOPPING=1 at once.
        if systemd.isActive { services.append(SystemdService(notifier: systemd, engine: self)) }
        systemd.ready(status: "flows bound: \(flows.map(\.name).joined(separator: ", "))")
        let group = ServiceGroup(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        do {
            try await group.run()
        } catch is CancellationError {
            // The services end by cancellation when the group shuts down: a clean stop.
        }
        context.shutdown()
        if let stateFile = settings.stateFile { try? FileManager.default.removeItem(atPath: stateFile) }
        logger.info("engine stopped")
    }

    /// Every flow turning and verified, for the watchdog: a stuck or given-up flow is not healthy.
    public var healthy: Bool {
        supervisors.filter { $0.unit is FlowUnit }.allSatisfy { $0.status.state == .running && $0.unit.verify() == nil }
    }

    /// Every service's state, counters included for flows, and the tick ingest's.
    public func currentSnapshot() -> EngineSnapshot {
        let counters = Dictionary(uniqueKeysWithValues: flows.map { ($0.name, $0.counters.snapshot) })
        let now = Date()
        var ticks: TickSnapshot?
        let bridged = counters.values.reduce(0) { $0 + $1.ticksBySymbol.values.reduce(0, +) }
        let lastTickAt = counters.values.compactMap(\.lastTickAt).max()
        if let ingest {
            let ingested = ingest.counters
            ticks = TickSnapshot(
                received: ingested.received, stored: ingested.stored, spooled: ingested.spooled, replayed: ingested.replayed,
                invalid: ingested.invalid, dropped: ingested.dropped, lastTickAt: lastTickAt, lastMinute: tickRate.perMinute(total: bridged, at: now)
            )
        } else {
            ticks = TickSnapshot(received: bridged, lastTickAt: lastTickAt, lastMinute: tickRate.perMinute(total: bridged, at: now))
        }
        let services = supervisors.map { supervisor -> ServiceSnapshot in
            let status = supervisor.status
            var service = ServiceSnapshot(
                name: status.name, kind: supervisor.unit is FlowUnit ? .flow : .process, state: status.state,
                restarts: supervisor.restartsInWindow, since: status.since, ports: status.ports,
                problem: status.state == .running ? supervisor.unit.verify() : nil, lastError: status.lastError
            )
            if let snapshot = counters[status.name] {
                service.received = snapshot.received
                service.sent = snapshot.sent
                service.malformed = snapshot.malformed
                service.ticksBySymbol = snapshot.ticksBySymbol
                service.lastMessageAt = snapshot.lastMessageAt
                service.peers = snapshot.peers?.connected
                service.identifiedPeers = snapshot.peers?.identified
                service.refused = snapshot.refused.isEmpty ? nil : snapshot.refused
            }
            return service
        }
        var engine = EngineSnapshot(pid: Int(getpid()), startedAt: startedAt, updatedAt: now, services: services, ticks: ticks)
        engine.exposure = settings.exposure
        engine.simulatedCanaries = settings.simulatedCanaries.isEmpty ? nil : settings.simulatedCanaries
        engine.flowRecords = settings.flowRecords?()
        return engine
    }
}

extension LiveEngine: EngineControl {
    public func snapshot() async throws -> EngineSnapshot {
        currentSnapshot()
    }

    public func restart(_ service: String) async throws {
        guard let supervisor = supervisors.first(where: { $0.unit.name == service }) else {
            let names = supervisors.map(\.unit.name)
            throw RestartRefused("no service named '\(service)'\(Suggestion.hint(for: service, in: names)); services: \(names.joined(separator: ", "))")
        }
        logger.notice("restart of \(service) asked for", metadata: ["service": "\(service)"])
        if let problem = await supervisor.restartNow() { throw RestartRefused(problem) }
    }

    public func serviceNames() async throws -> [String] {
        supervisors.map(\.unit.name)
    }
}

/// Ticks per minute from the running total, sampled whenever the engine is looked at.
final class TickRate: Sendable {
    private let samples = Mutex<[(at: Date, total: Int)]>([])

    func perMinute(total: Int, at now: Date) -> Int {
        samples.withLock { samples in
            if samples.last.map({ now.timeIntervalSince($0.at) >= 1 }) ?? true { samples.append((now, total)) }
            // Keep the newest sample at least a minute old, and everything since.
            if let keep = samples.lastIndex(where: { now.timeIntervalSince($0.at) >= 60 }) { samples.removeFirst(keep) }
            guard let base = samples.first, now.timeIntervalSince(base.at) >= 1 else { return 0 }
            let span = now.timeIntervalSince(base.at)
            return Int((Double(total - base.total) * 60 / max(span, 60)).rounded())
        }
    }
}

/// A supervisor as a service of the group.
struct SupervisionService: Service {
    let supervisor: Supervisor<ContinuousClock>

    init(_ supervisor: Supervisor<ContinuousClock>) {
        self.supervisor = supervisor
    }

    func run() async throws {
        let supervisor = self.supervisor
        await cancelWhenGracefulShutdown { await supervisor.supervise() }
    }
}

/// Writes the engine's state as JSON each second, atomically, for other commands to read.
struct StateFileService: Service {
    let engine: LiveEngine
    let path: String

    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                if let data = try? EngineSnapshot.encoder.encode(engine.currentSnapshot()) {
                    let temporary = path + ".tmp"
                    if FileManager.default.createFile(atPath: temporary, contents: data) { rename(temporary, path) }
                }
                try await Task.sleep(for: .seconds(1))
            }
        }
    }
}

/// Tells systemd the engine is alive, while every flow is (the watchdog), and that it is stopping
/// as soon as a shutdown begins.
struct SystemdService: Service {
    let notifier: SystemdNotifier
    let engine: LiveEngine

    func run() async throws {
        let notifier = self.notifier
        let engine = self.engine
        try? await withGracefulShutdownHandler {
            try await cancelWhenGracefulShutdown {
                guard let interval = notifier.watchdogInterval else {
                    while !Task.isCancelled { try await Task.sleep(for: .seconds(3600)) }
                    return
                }
                while !Task.isCancelled {
                    if engine.healthy { notifier.alive() }
                    try await Task.sleep(for: interval)
                }
            }
        } onGracefulShutdown: {
            notifier.stopping()
        }
    }
}

/// Stores ticks until the group stops, then stores what is left.
struct IngestService: Service {
    let ingest: TickIngest

    func run() async throws {
        let ingest = self.ingest
        await cancelWhenGracefulShutdown { await ingest.run() }
    }
}
