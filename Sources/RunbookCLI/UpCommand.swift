import ArgumentParser
import Foundation
import Logging
import RunbookApp
import RunbookChecks
import RunbookCurl
import RunbookEngine
import RunbookEscalation
import RunbookFlows
import RunbookExecutor
import RunbookModel
import RunbookScheduler
import RunbookSQLite
import RunbookSimulator
import RunbookStore
import RunbookExecutor
import ServiceLifecycle

/// `runbook up`: runs the engine until SIGTERM or SIGINT.
struct UpCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "up",
        abstract: "Run the engine: the live ZeroMQ flows, the supervised programs and the scheduler.",
        discussion: "Stops cleanly on SIGTERM or SIGINT. Exits 1 when it cannot start (a port in use, say)."
    )

    @OptionGroup var global: GlobalOptions

    @Flag(help: "Also run a simulated EA and a simulated signal engine, so a machine without MT5 shows real traffic.")
    var simulate = false

    @Option(help: "Simulated EAs (with --simulate).")
    var eas = 2

    @Option(name: .customLong("tick-rate"), help: "Simulated ticks per second (with --simulate).")
    var tickRate = 20.0

    @Option(name: .customLong("fault"), help: "A fault for the simulated EAs (with --simulate): stop-heartbeats-after=30s (with resume-heartbeats-after=2m to bring them back), no-ticks, drop-confirmations or disconnect-after=1m; repeat for more.")
    var faults: [String] = []

    @Option(name: .customLong("log-format"), help: "text or json (default: json when standard error is not a terminal).")
    var logFormat: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical (or LOG_LEVEL).")
    var logLevel: String?

    @Option(name: .customLong("log-file"), help: "Write the log to this file instead of standard error, rotated by size.")
    var logFile: String?

    @Option(name: .customLong("log-max-size"), help: "Rotate the log file at this size (default 10MB).")
    var logMaxSize = "10MB"

    @Option(name: .customLong("log-keep"), help: "Rotated log files to keep (default 5).")
    var logKeep = 5

    func validate() throws {
        if let logFormat, !["text", "json"].contains(logFormat) { throw ValidationError("--log-format '\(logFormat)' is not text or json") }
        if let logLevel, Logger.Level(rawValue: logLevel) == nil {
            throw ValidationError("--log-level '\(logLevel)' is not one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if eas < 1 { throw ValidationError("--eas must be 1 or more") }
        for fault in faults where EASimulator.Fault(fault) == nil {
            throw ValidationError("--fault '\(fault)' is not one of stop-heartbeats-after=DURATION, resume-heartbeats-after=DURATION, no-ticks, drop-confirmations, disconnect-after=DURATION")
        }
        if !faults.isEmpty && !simulate { throw ValidationError("--fault needs --simulate") }
        if ByteSize.parse(logMaxSize) == nil { throw ValidationError("--log-max-size '\(logMaxSize)' is not a size such as 10MB") }
        if logKeep < 1 { throw ValidationError("--log-keep must be 1 or more") }
    }

    func run() async throws {
        if let logFile {
            do {
                let file = try RotatingLogFile(path: logFile, maxBytes: Int(ByteSize.parse(logMaxSize) ?? 10 << 20), keep: logKeep)
                RunbookLogHandler.file.withLock { $0 = file }
            } catch {
                Console.error("error: cannot write the log file \(logFile): \(error.localizedDescription)")
                throw ExitStatus.usage.code
            }
        }
        let json = logFormat.map { $0 == "json" } ?? (ProcessInfo.processInfo.environment["RUNBOOK_LOG_FORMAT"] == "json" || logFile != nil || isatty(STDERR_FILENO) != 1)
        RunbookLogHandler.format.store(json ? RunbookLogHandler.Format.json.rawValue : RunbookLogHandler.Format.text.rawValue, ordering: .relaxed)
        if let level = logLevel.flatMap(Logger.Level.init(rawValue:)) { RunbookLogHandler.level.store(level.index, ordering: .relaxed) }

        let engine = Engine(config: try global.engineConfig())
        let config = engine.config
        if simulate && config.flows.security.usesCurve {
            Console.error("error: --simulate runs its EA and signal engine without CURVE keys, and flows.security.curve would refuse them: simulate with a configuration without curve")
            throw ExitStatus.usage.code
        }
        let checks = try engine.checks()
        let library = engine.library()
        for problem in CheckLoader.problems(of: checks, against: library) {
            Console.error("warning: \(problem.location): \(problem.message); that check will not start its runbook (`runbook validate` lists every problem)")
        }
        let records = try engine.records()
        let http = try HTTPWiring.prepare(config)
        let logger = Logger(label: "runbook.engine")
        let flows = config.flows
        var programs = config.processes.map { process in
            ProcessUnit.Spec(
                name: process.name, executable: process.command, arguments: process.args, environment: process.env,
                workingDirectory: process.cwd, ports: process.ports, stopTimeout: process.stopTimeout, policy: process.restart.map(Self.policy)
            )
        }
        if simulate {
            let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
            programs.append(ProcessUnit.Spec(name: "sim-ea", executable: me, arguments: [
                "sim", "ea", "--eas", String(eas), "--rate", String(tickRate),
                "--ticks", FlowEndpoints.local(flows.telemetryIn), "--router", FlowEndpoints.local(flows.router),
                "--confirmations", FlowEndpoints.local(flows.confirmations),
            ] + faults.flatMap { ["--fault", $0] }, environment: ["RUNBOOK_LOG_FORMAT": "message", "RUNBOOK_EXIT_WITH_PARENT": "1"], stopTimeout: .seconds(3)))
            programs.append(ProcessUnit.Spec(name: "sim-signals", executable: me, arguments: [
                "sim", "signals", "--ticks", FlowEndpoints.local(flows.telemetryOut), "--signals", flows.signals,
            ], environment: ["RUNBOOK_LOG_FORMAT": "message", "RUNBOOK_EXIT_WITH_PARENT": "1"], ports: ZMQPort.of(flows.signals).map { [$0] } ?? [], stopTimeout: .seconds(3)))
        }
        let restart = config.restart
        let settings = LiveEngine.Settings(
            telemetryIn: flows.telemetryIn, telemetryOut: flows.telemetryOut, signals: flows.signals, commandQueue: flows.commandQueue,
            router: flows.router, confirmations: flows.confirmations, processes: programs,
            policy: Self.policy(restart),
            stateFile: engine.stateFile, security: flows.security
        )
        var forward: (@Sendable (FlowMessage.Signal) -> Void)?
        if let url = flows.signalForwardURL {
            let forwarder = JSONForwarder(url: url, logger: logger)
            forward = { signal in forwarder.send(signal.raw) }
        }
        let tickStore = try SQLiteTickStore(path: engine.tickStorePath, alignment: engine.alignment)
        // With the journal off, one an earlier run left is still recovered (and journaling stays on for this run).
        let journaling = config.ticks.journal || !TickJournal.read(directory: engine.journalDirectory).files.isEmpty
        if !journaling {
            Logger(label: "runbook.ticks").notice("ticks.journal is off: a crash of the engine loses the ticks it relayed and had not stored yet")
        }
        var tickSettings = TickIngest.Settings()
        tickSettings.syncInterval = config.ticks.syncInterval
        let ingest = TickIngest(
            store: tickStore, spool: try TickSpool(path: engine.spoolPath), journal: journaling ? try TickJournal(directory: engine.journalDirectory) : nil,
            settings: tickSettings, logger: Logger(label: "runbook.ticks"),
            parse: { bytes in FrameScanner.tick(bytes).map { Tick(symbol: $0.symbol, timeMsc: $0.timeMsc, bid: $0.bid, ask: $0.ask, volume: $0.volume) } }
        )
        // Incidents need only the records and the checks, so the supervisor can tell them of a
        // service that gave up from the first start on.
        let desk = engine.incidentDesk(records: records, checks: { checks })
        let live: LiveEngine
        do {
            live = try LiveEngine(settings: settings, store: http?.flowStore(records) ?? records, logger: logger, ingest: ingest, onSignal: forward) { status in
                desk.serviceChanged(status)
            }
        } catch {
            Console.error("error: \(error)")
            throw ExitStatus.failed.code
        }
        do {
            try await live.start()
        } catch {
            Console.error("error: \(error)")
            throw ExitStatus.failed.code
        }
        let control: ControlServer
        do {
            control = try ControlServer(endpoint: engine.controlEndpoint, engine: live, logger: logger)
        } catch {
            await live.stop()
            Console.error("error: cannot open the control socket \(engine.controlEndpoint): \(error)")
            throw ExitStatus.failed.code
        }
        // The runbooks checks and schedules start, with steps that act on this engine directly.
        let environment = engine.probeEnvironment(records: records, engine: live)
        let book = CheckBook(checks: checks, evaluator: CheckEvaluator(probes: Catalog.probes, environment: environment))
        let services = engine.stepServices(records: records, checks: book, desk: desk)
        let launcher = RunLauncher(executor: engine.executor(recorder: records, library: library, observer: http?.runObserver, services: services))
        let guardian = Guardian(
            book: book, launcher: launcher,
            journal: records, incidents: desk, clock: ContinuousClock(), logger: Logger(label: "runbook.guardian"), healthFile: engine.healthFile
        )
        let outbox = OutboxWorker(
            store: records, channels: NotificationChannels.make(config.channels), policy: config.escalation, clock: ContinuousClock(),
            logger: Logger(label: "runbook.outbox")
        )
        desk.onQueued { outbox.wake() }
        // Stopped in reverse order: runs first, then the scheduler and the guardian, then the
        // incidents and the outbox (which sends what they queued last), then the control socket.
        let server = try await http?.server(engine: engine, live: live, guardian: guardian, records: records, library: library, launcher: launcher, desk: desk)
        try await live.run(alongside: [
            control, outbox, IncidentClock(desk: desk, clock: ContinuousClock()), guardian,
            scheduler(engine, records: records, library: library, launcher: launcher), LaunchedRunsService(launcher: launcher),
        ] + (server.map { [$0] } ?? []))
    }

    /// The scheduler of the schedules folder, starting runs through the engine's launcher.
    /// Problems are logged, not fatal: the flows matter more than a mistyped schedule.
    func scheduler(_ engine: Engine, records: RunRecords, library: RunbookLibrary, launcher: RunLauncher) -> Scheduler<ContinuousClock> {
        let logger = Logger(label: "runbook.scheduler")
        let schedules = engine.schedules()
        let mismatched = schedules.problems(against: library)
        for problem in schedules.diagnostics + mismatched {
            logger.error("schedule left out: \(problem.location): \(problem.message)")
        }
        let usable = schedules.sorted.filter { schedule in !mismatched.contains { $0.location.file == schedule.file } }
        for schedule in usable where (try? library.resolve(schedule.runbook)) == nil {
            logger.warning("runbook '\(schedule.runbook)' is not in \(engine.config.runbooksDirectory) or has errors: the schedule's fires will not run", metadata: ["schedule": "\(schedule.name)"])
        }
        logger.info("\(usable.count) schedule(s) from \(engine.config.schedulesDirectory)")
        return Scheduler(schedules: usable, market: engine.config.market, state: records, starter: launcher, clock: ContinuousClock(), logger: logger)
    }
}

extension UpCommand {
    static func policy(_ settings: RestartSettings) -> RestartPolicy {
        RestartPolicy(wait: settings.wait, maxWait: settings.maxWait, budget: settings.budget, window: settings.window, stableAfter: settings.stableAfter)
    }
}

/// Cancels the runs the engine started when it shuts down, and waits until each has recorded
/// its end.
struct LaunchedRunsService: Service {
    let launcher: RunLauncher

    func run() async throws {
        // Until the group shuts down (or is cancelled, which also ends the wait).
        try? await gracefulShutdown()
        await launcher.cancelAll()
    }
}

/// The TCP port of an endpoint.
enum ZMQPort {
    static func of(_ endpoint: String) -> Int? {
        guard endpoint.hasPrefix("tcp://"), let colon = endpoint.lastIndex(of: ":") else { return nil }
        return Int(endpoint[endpoint.index(after: colon)...])
    }
}
