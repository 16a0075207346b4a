import Foundation
import Logging
import RunbookChecks
import RunbookCore
import RunbookCurl
import RunbookEngine
import RunbookEscalation
import RunbookExecutor
import RunbookFlows
import RunbookModel
import RunbookScheduler
import RunbookSQLite
import RunbookStore
import ServiceLifecycle
import Synchronization

/// `runbook up`: the engine's parts built from the configuration and run as one service group
/// (the live flows, the supervised programs, the guardian, the scheduler, incidents and their
/// outbox, the control socket and the HTTP server) until SIGTERM or SIGINT, as Hummingbird's
/// `Application` runs its server's group. The command line only parses and calls in.
public struct Application: Sendable {
    public let assembly: Assembly
    /// Programs to supervise beside those of the configuration (the simulators of `--simulate`).
    public var extraPrograms: [ProcessUnit.Spec]
    /// Where problems that do not stop the start are told (standard error for `runbook up`).
    public var warn: @Sendable (String) -> Void

    public init(_ assembly: Assembly, extraPrograms: [ProcessUnit.Spec] = [], warn: @escaping @Sendable (String) -> Void) {
        self.assembly = assembly
        self.extraPrograms = extraPrograms
        self.warn = warn
    }

    /// Runs until the group stops. Throws `AssemblyError` for checks with problems or records
    /// that cannot be opened, `StartFailure` when the engine cannot start (a port in use, say).
    public func run() async throws {
        let config = assembly.config
        let checks = try assembly.checks()
        let library = assembly.library()
        for problem in CheckLoader.problems(of: checks, against: library) {
            warn("warning: \(problem.location): \(problem.message); that check will not start its runbook (`runbook validate` lists every problem)")
        }
        let records = try await assembly.records()
        let http = try HTTPWiring.prepare(config)
        let logger = Logger(label: "runbook.engine")
        let flows = config.flows
        var programs = config.processes.map { process in
            ProcessUnit.Spec(
                name: process.name, executable: process.command, arguments: process.args, environment: process.env,
                workingDirectory: process.cwd, ports: process.ports, stopTimeout: process.stopTimeout, policy: process.restart.map(Application.policy)
            )
        }
        programs += extraPrograms
        let restart = config.restart
        var settings = LiveEngine.Settings(endpoints: flows, processes: programs, policy: Application.policy(restart), stateFile: assembly.stateFile)
        settings.simulatedCanaries = assembly.simulatedCanaries
        var forward: (@Sendable (FlowMessage.Signal) -> Void)?
        if let url = flows.signalForwardURL {
            let forwarder = JSONForwarder(url: url, logger: logger)
            forward = { signal in forwarder.send(signal.raw) }
        }
        let tickStore: any TickStore
        do {
            tickStore = try await assembly.openTickStore(waitForServer: true)!
        } catch {
            throw StartFailure("\(error)")
        }
        // With the journal off, one an earlier run left is still recovered (and journaling stays on for this run).
        let journaling = config.ticks.journal || TickJournal.hasSegments(in: assembly.journalDirectory)
        if !journaling {
            Logger(label: "runbook.ticks").notice("ticks.journal is off: a crash of the engine loses the ticks it relayed and had not stored yet")
        }
        var tickSettings = TickIngest.Settings()
        tickSettings.syncInterval = config.ticks.syncInterval
        let ingest = TickIngest(
            store: tickStore, spool: try TickSpool(path: assembly.spoolPath), journal: journaling ? try TickJournal(directory: assembly.journalDirectory) : nil,
            settings: tickSettings, logger: Logger(label: "runbook.ticks"),
            parse: { bytes in FrameScanner.tick(bytes).map { Tick(symbol: $0.symbol, timeMsc: $0.timeMsc, bid: $0.bid, ask: $0.ask, volume: $0.volume) } }
        )
        // Incidents need only the records and the checks, so the supervisor can tell them of a
        // service that gave up from the first start on.
        let leading = LeadershipOnceKnown()
        let desk = assembly.incidentDesk(records: records, checks: { checks }, leadership: leading)
        let serviceChanges = ServiceChanges(desk: desk)
        // The flows keep moving while the records cannot be reached: what they record waits in a
        // spool, and is written once the records answer (or when the engine starts again).
        let flowRecords: SpoolingFlowStore
        do {
            flowRecords = try SpoolingFlowStore(
                records.flows, spoolPath: assembly.flowSpoolPath, logger: Logger(label: "runbook.records"), isOutage: records.isUnreachable
            )
        } catch {
            throw StartFailure("\(error)")
        }
        defer { flowRecords.close() }
        settings.flowRecords = {
            let counts = flowRecords.counts
            return FlowRecordsSnapshot(waiting: counts.waiting, replayed: counts.replayed, refused: counts.refused)
        }
        // The kill switch, closed across a restart if it was closed before.
        let gate = GateWatch(store: records.flows, gate: FireGate())
        do {
            try await gate.refresh()
        } catch {
            throw StartFailure("cannot read the gate (the kill switch on the command router) from the records: \(error)")
        }
        let live: LiveEngine
        do {
            live = try LiveEngine(
                settings: settings, logger: logger, ingest: ingest,
                flows: Flows.standard(flows, store: http?.flowStore(flowRecords) ?? flowRecords, ingest: ingest, onSignal: forward, gate: gate.gate, logger: logger)
            ) { status in
                serviceChanges.add(status)
            }
        } catch {
            throw StartFailure("\(error)")
        }
        do {
            try await live.start()
        } catch {
            throw StartFailure("\(error)")
        }
        let control: ControlServer
        do {
            control = try ControlServer(endpoint: assembly.controlEndpoint, engine: live, logger: logger) { try await gate.refresh() }
        } catch {
            await live.stop()
            throw StartFailure("cannot open the control socket \(assembly.controlEndpoint): \(error)")
        }
        // The runbooks checks and schedules start, with steps that act on this engine directly.
        let environment = assembly.checkServices(records: records, engine: live, ticks: tickStore)
        let book = CheckBook(checks: checks, evaluator: CheckEvaluator(probes: Catalog.probes, environment: environment))
        // Changed in this engine (a step, the API, the dashboard): in memory at once, logged.
        let gateKeeper = GateKeeper(store: records.flows, gate: gate.gate) { change in
            gate.announce(change)
        }
        let services = assembly.stepServices(records: records, checks: book, desk: desk, gate: gateKeeper)
        let launcher = RunLauncher(executor: assembly.executor(recorder: records.runs, library: library, observer: http?.runObserver, services: services))
        // Engines sharing the records lead by a lease; the one engine of SQLite records always leads.
        let lease = await fleetLease(records: records, live: live)
        let leadership: any Leadership = lease ?? SoleEngine()
        leading.know(leadership)
        let guardian = Guardian(
            book: book, launcher: launcher,
            journal: records.checks, incidents: desk, clock: ContinuousClock(), logger: Logger(label: "runbook.guardian"), healthFile: assembly.healthFile,
            leadership: leadership
        )
        let outboxes = Mutex<OutboxWorker<ContinuousClock>?>(nil)
        let makeOutbox: @Sendable () -> OutboxWorker<ContinuousClock> = {
            let outbox = OutboxWorker(
                store: records.incidents, channels: Catalog.channels.make(config.channels), policy: config.escalation, clock: ContinuousClock(),
                logger: Logger(label: "runbook.outbox"), takingOver: lease != nil
            )
            outboxes.withLock { $0 = outbox }
            return outbox
        }
        desk.onQueued { outboxes.withLock { $0 }?.wake() }
        let scheduler: @Sendable () -> Scheduler<ContinuousClock> = {
            self.scheduler(assembly, records: records, library: library, launcher: launcher, inFleet: lease != nil, missed: MissedFireIncidents(desk: desk))
        }
        // The duties only a fleet's leader does, made anew each time this engine leads.
        // Incident climbs run on every engine: each climbs its own incidents (it reads their
        // checks), the leader those of no engine (shared checks, runbooks).
        let duties: [any Service] = if let lease {
            [lease, LeaderOnly(lease) { makeOutbox() }, IncidentClock(desk: desk, clock: ContinuousClock()), guardian, LeaderOnly(lease) { scheduler() }]
        } else {
            [makeOutbox(), IncidentClock(desk: desk, clock: ContinuousClock()), guardian, scheduler()]
        }
        // The buttons under incident messages, read where people may act on them (the leader of a fleet).
        let presses: [any Service] = config.channels.compactMap { channel in
            guard let telegram = channel.options as? ChannelSettings.Telegram, !telegram.allowedUsers.isEmpty else { return nil }
            let actions = TelegramActions(
                channel: channel.name, settings: telegram, desk: desk, launcher: launcher, gate: gateKeeper, approvals: ApprovalDesk(store: records.runs), checks: { checks },
                logger: Logger(label: "runbook.telegram")
            )
            return TelegramUpdates(
                channel: channel.name, settings: telegram, environment: { ProcessInfo.processInfo.environment[$0] },
                offsetFile: (config.dataDirectory as NSString).appendingPathComponent("telegram-\(channel.name).offset"),
                leading: { leadership.isLeading }, logger: Logger(label: "runbook.telegram")
            ) { await actions.handle($0) }
        }
        // Stopped in reverse order: runs first, then the scheduler and the guardian, then the
        // incidents and the outbox (which sends what they queued last), then the control socket.
        let server = try await http?.server(assembly: assembly, live: live, guardian: guardian, records: records, library: library, launcher: launcher, desk: desk, gate: gateKeeper)
        do {
            // Runs a stopped process left waiting for people are taken up again here.
            let waiting = WaitingRuns(store: records.runs, launcher: launcher, library: library, shared: records.fleet != nil, logger: Logger(label: "runbook.approvals"))
            // Taken up before the guardian and the scheduler start, which would otherwise see no
            // run going for a check or schedule whose run waits, and start another beside it;
            // for 10 s at most (slow records): the service's next look goes on from there.
            await withTaskGroup(of: Void.self) { group in
                group.addTask { await waiting.takeUp() }
                group.addTask { try? await Task.sleep(for: .seconds(10)) }
                await group.next()
                group.cancelAll()
            }
            try await live.run(alongside: [control, gate] + duties + presses + [waiting, LaunchedRunsService(launcher: launcher)] + (server.map { [$0] } ?? []))
        } catch {
            await serviceChanges.flush()
            throw error
        }
        // A service that gave up as the engine stopped still has its incident.
        await serviceChanges.flush()
    }

    /// The lease of engines sharing the records, with a first round done (an engine alone in
    /// its fleet leads before its duties start); nil for records no other engine can share.
    func fleetLease(records: Records, live: LiveEngine) async -> LeaseKeeper<ContinuousClock>? {
        guard let fleet = records.fleet else { return nil }
        let config = assembly.config
        let started = Date()
        let host = ProcessInfo.processInfo.hostName
        let lease = LeaseKeeper(store: fleet, engine: config.engine.name, ttl: config.engine.leaseTTL, clock: ContinuousClock()) {
            let flows = ((try? await live.snapshot())?.services ?? []).filter { $0.kind == .flow }
            return EngineBeat(
                name: config.engine.name, host: host, pid: getpid(), version: Release.version, startedAt: started,
                flowsUp: flows.filter { $0.state == .running }.count, flowsTotal: flows.count
            )
        }
        await lease.round()
        return lease
    }

    /// The scheduler of the schedules folder, starting runs through the engine's launcher.
    /// Problems are logged, not fatal: the flows matter more than a mistyped schedule.
    /// `inFleet`: it stops when its engine stops leading, and leaves its runs to finish then.
    /// `missed`: told of fires that will not run (an incident each).
    func scheduler(
        _ assembly: Assembly, records: Records, library: RunbookLibrary, launcher: RunLauncher, inFleet: Bool = false, missed: (any MissedFireAlerts)? = nil
    ) -> Scheduler<ContinuousClock> {
        let logger = Logger(label: "runbook.scheduler")
        let schedules = assembly.schedules()
        let mismatched = schedules.problems(against: library)
        for problem in schedules.diagnostics + mismatched {
            logger.error("schedule left out: \(problem.location): \(problem.message)")
        }
        let usable = schedules.sorted.filter { schedule in !mismatched.contains { $0.location.file == schedule.file } }
        for schedule in usable where (try? library.resolve(schedule.runbook)) == nil {
            logger.warning("runbook '\(schedule.runbook)' is not in \(assembly.config.runbooksDirectory) or has errors: the schedule's fires will not run", metadata: ["schedule": "\(schedule.name)"])
        }
        logger.info("\(usable.count) schedule(s) from \(assembly.config.schedulesDirectory)")
        return Scheduler(
            schedules: usable, market: assembly.config.market, state: records.schedule, starter: launcher, clock: ContinuousClock(),
            leavesRunsWhenCancelled: inFleet, missed: missed, logger: logger
        )
    }

    /// The restart policy of a `restart:` block.
    public static func policy(_ settings: RestartSettings) -> RestartPolicy {
        RestartPolicy(wait: settings.wait, maxWait: settings.maxWait, budget: settings.budget, window: settings.window, stableAfter: settings.stableAfter)
    }
}

/// Why `runbook up` could not start: what to tell the operator.
public struct StartFailure: Error, Sendable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// Cancels the runs the engine started when it shuts down, and waits until each has recorded
/// its end.
struct LaunchedRunsService: Service {
    let launcher: RunLauncher

    func run() async throws {
        // Until the group shuts down (or is cancelled, which also ends the wait).
        try? await gracefulShutdown()
        // A run waiting for people stays waiting, for the engine to take up when it starts.
        await launcher.stopAll()
    }
}

/// The TCP port of an endpoint.
public enum ZMQPort {
    public static func of(_ endpoint: String) -> Int? {
        guard endpoint.hasPrefix("tcp://"), let colon = endpoint.lastIndex(of: ":") else { return nil }
        return Int(endpoint[endpoint.index(after: colon)...])
    }
}

/// Leadership known once the engine has started: nobody leads until then.
final class LeadershipOnceKnown: Leadership {
    private let known = Mutex<(any Leadership)?>(nil)

    func know(_ leadership: any Leadership) { known.withLock { $0 = leadership } }

    var isLeading: Bool { known.withLock { $0 }?.isLeading ?? false }
}

/// Keeps this engine's gate as the records have it: read at start, then every second (another
/// engine of the fleet, or a command, may change it), and at once when a command asks through
/// the control socket. Each change is logged.
final class GateWatch: Service, Sendable {
    let store: any GateStore
    let gate: FireGate
    private let logger: Logger

    init(store: any GateStore, gate: FireGate, logger: Logger = Logger(label: "runbook.gate")) {
        self.store = store
        self.gate = gate
        self.logger = logger
    }

    func refresh() async throws {
        let before = gate.current
        gate.know(try await store.gate())
        say(gate.current, before: before)
    }

    /// Logs a change of the gate this engine now holds.
    func say(_ change: GateChange?, before: GateChange?) {
        guard let change, change != before, change.closed || before?.closed == true else { return }
        announce(change)
    }

    /// Logs a change made in this engine (a step, the API, the dashboard).
    func announce(_ change: GateChange) {
        if change.closed {
            logger.warning("the gate is closed: fires fail and reach no EA; \(change.text)")
        } else {
            logger.notice("the gate is open: fires reach the EAs again; \(change.text)")
        }
    }

    func run() async throws {
        while !Task.isCancelled, !Task.isShuttingDownGracefully {
            do {
                try await refresh()
            } catch {
                logger.error("cannot read the gate from the records (it stays as it was): \(error)")
            }
            try? await Task.sleep(for: .seconds(1))
        }
    }
}
