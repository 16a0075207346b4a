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

    @Flag(help: "Also run simulated EAs, a simulated signal engine and a simulated web app that turns signals into fires, so a machine without MT5 shows real traffic and trades; ea-01 is a canary unless runbook.yaml marks one.")
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
            throw ValidationError("--fault '\(fault)' is not one of \(EASimulator.Fault.forms.joined(separator: ", "))")
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

        let engineConfig = try global.engineConfig()
        // The demo's canary: the simulated ea-01 (the simulator knows canaries and never trades
        // them), unless the configuration marks one or says what ea-01 is.
        let demoCanary = simulate && engineConfig.canaries.isEmpty && engineConfig.eas["ea-01"] == nil
        let assembly = Assembly(config: engineConfig, simulatedCanaries: demoCanary ? ["ea-01"] : [])
        let config = assembly.config
        if simulate && config.flows.security.usesCurve {
            Console.error("error: --simulate runs its EA and signal engine without CURVE keys, and flows.security.curve would refuse them: simulate with a configuration without curve")
            throw ExitStatus.usage.code
        }
        let flows = config.flows
        var programs: [ProcessUnit.Spec] = []
        if simulate {
            EASimulator.startTracking(eas: eas, in: (config.dataDirectory as NSString).appendingPathComponent("tracking"))
            let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
            programs.append(ProcessUnit.Spec(name: "sim-ea", executable: me, arguments: [
                "sim", "ea", "--eas", String(eas), "--rate", String(tickRate),
                "--ticks", FlowEndpoints.local(flows.telemetryIn), "--router", FlowEndpoints.local(flows.router),
                "--confirmations", FlowEndpoints.local(flows.confirmations),
                "--tracking", (config.dataDirectory as NSString).appendingPathComponent("tracking"),
            ] + faults.flatMap { ["--fault", $0] }, environment: ["RUNBOOK_LOG_FORMAT": "message", "RUNBOOK_EXIT_WITH_PARENT": "1"], stopTimeout: .seconds(3)))
            programs.append(ProcessUnit.Spec(name: "sim-signals", executable: me, arguments: [
                "sim", "signals", "--ticks", FlowEndpoints.local(flows.telemetryOut), "--signals", flows.signals,
            ], environment: ["RUNBOOK_LOG_FORMAT": "message", "RUNBOOK_EXIT_WITH_PARENT": "1"], ports: ZMQPort.of(flows.signals).map { [$0] } ?? [], stopTimeout: .seconds(3)))
            programs.append(ProcessUnit.Spec(name: "sim-webapp", executable: me, arguments: [
                "sim", "webapp", "--signals", FlowEndpoints.local(flows.signals), "--queue", FlowEndpoints.local(flows.commandQueue), "--eas", String(eas),
            ], environment: ["RUNBOOK_LOG_FORMAT": "message", "RUNBOOK_EXIT_WITH_PARENT": "1"], stopTimeout: .seconds(3)))
        }
        do {
            try await Application(assembly, extraPrograms: programs, warn: { Console.error($0) }).run()
        } catch let failure as StartFailure {
            Console.error("error: \(failure)")
            throw ExitStatus.failed.code
        }
    }
}
