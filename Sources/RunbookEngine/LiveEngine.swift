import Foundation
import Logging
import RunbookFlows
import RunbookStore
import RunbookZMQ
import ServiceLifecycle
import Synchronization

/// The running engine: the four flows and the supervised programs, each under a supervisor, in
/// one service group that stops cleanly on SIGTERM or SIGINT.
public final class LiveEngine: Sendable {
    public struct Settings: Sendable {
        public var telemetryIn: String
        public var telemetryOut: String
        public var signals: String
        public var commandQueue: String
        public var router: String
        public var confirmations: String
        public var processes: [ProcessUnit.Spec]
        public var policy: RestartPolicy
        /// Where the engine writes its state each second, for `runbook flows`.
        public var stateFile: String?

        public init(
            telemetryIn: String, telemetryOut: String, signals: String, commandQueue: String, router: String, confirmations: String,
            processes: [ProcessUnit.Spec] = [], policy: RestartPolicy = RestartPolicy(), stateFile: String? = nil
        ) {
            self.telemetryIn = telemetryIn
            self.telemetryOut = telemetryOut
            self.signals = signals
            self.commandQueue = commandQueue
            self.router = router
            self.confirmations = confirmations
            self.processes = processes
            self.policy = policy
            self.stateFile = stateFile
        }
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

    /// Stores the ticks the bridge relays, when set.
    private let ingest: TickIngest?

    public init(
        settings: Settings, store: (any FlowStore)?, logger: Logger, ingest: TickIngest? = nil,
        onSignal: (@Sendable (FlowMessage.Signal) -> Void)? = nil
    ) throws {
        self.settings = settings
        self.logger = logger
        self.ingest = ingest
        let context = try ZMQContext()
        self.context = context
        var onTick: (@Sendable (UnsafeRawBufferPointer) -> Void)?
        var isBackedUp: (@Sendable () -> Bool)?
        if let ingest {
            onTick = { frame in ingest.accept(frame) }
            isBackedUp = { ingest.isFull }
        }
        let flows: [any Flow] = [
            TelemetryBridge(input: settings.telemetryIn, output: settings.telemetryOut, store: store, logger: logger, onTick: onTick, isBackedUp: isBackedUp),
            SignalRelay(source: settings.signals, store: store, logger: logger, forward: onSignal),
            CommandRouter(queue: settings.commandQueue, router: settings.router, store: store, logger: logger),
            ConfirmationListener(input: settings.confirmations, store: store, logger: logger),
        ]
        self.flows = flows
        let units: [any SupervisedUnit] = flows.map { FlowUnit($0, context: context) } + settings.processes.map { ProcessUnit($0, logger: logger) }
        supervisors = units.map { unit in
            let policy = (unit as? ProcessUnit)?.spec.policy ?? settings.policy
            return Supervisor(unit: unit, policy: policy, clock: ContinuousClock(), logger: logger)
        }
    }

    /// Binds every flow and starts every program; the first failure stops what was started and
    /// is thrown, naming the port and who holds it when that is the problem.
    public func start() async throws {
        // A program's port already taken is refused now, not found out in a crash loop.
        for program in settings.processes {
            for port in program.ports where PortProbe.isListening(port) {
                let holder = PortProbe.holder(of: port).map { " (held by \($0))" } ?? ""
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
                    if let port = zmq.endpoint.flatMap(ZMQSocket.port(of:)), let holder = PortProbe.holder(of: port) { message += " (held by \(holder))" }
                    message += "; stop the other program or change the port under flows: in runbook.yaml"
                }
                throw StartFailure(description: message)
            }
        }
        let programs = settings.processes.isEmpty ? "" : "; supervising \(settings.processes.map(\.name).joined(separator: ", "))"
        logger.info("engine up: \(flows.map(\.name).joined(separator: ", "))\(programs)")
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

    /// Every service's state, counters included for flows.
    public var state: [String: Any] {
        let counters = Dictionary(uniqueKeysWithValues: flows.map { ($0.name, $0.counters.snapshot) })
        let formatter = ISO8601DateFormatter()
        var ticks: [String: Any] = [:]
        if let counters = ingest?.counters {
            ticks = [
                "received": counters.received, "stored": counters.stored, "spooled": counters.spooled,
                "replayed": counters.replayed, "invalid": counters.invalid, "dropped": counters.dropped,
            ]
        }
        return [
            "ticks": ticks,
            "pid": Int(getpid()), "started_at": formatter.string(from: startedAt), "updated_at": formatter.string(from: Date()),
            "services": supervisors.map { supervisor -> [String: Any] in
                let status = supervisor.status
                var object: [String: Any] = [
                    "name": status.name, "kind": counters[status.name] == nil ? "process" : "flow", "state": status.state.rawValue,
                    "restarts": status.restarts, "since": formatter.string(from: status.since), "ports": status.ports,
                ]
                if let error = status.lastError { object["last_error"] = error }
                if let snapshot = counters[status.name] {
                    object["received"] = snapshot.received
                    object["sent"] = snapshot.sent
                    object["malformed"] = snapshot.malformed
                    object["ticks_by_symbol"] = snapshot.ticksBySymbol
                    if let last = snapshot.lastMessageAt { object["last_message_at"] = formatter.string(from: last) }
                }
                return object
            },
        ]
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
                if let data = try? JSONSerialization.data(withJSONObject: engine.state, options: [.sortedKeys]) {
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
