import ArgumentParser
import Foundation
import Logging
import RunbookFlows
import RunbookModel
import RunbookSimulator
import RunbookZMQ

/// `runbook sim ea|signals|webapp`: the simulators, on their own.
struct SimCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sim", abstract: "Run a simulated EA, signal engine or web app against the engine's ports.",
        subcommands: [EA.self, Signals.self, WebApp.self]
    )

    struct EA: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ea", abstract: "Simulated MT5 EAs: ticks, heartbeats, fills and closes.")

        @OptionGroup var global: GlobalOptions
        @Option(help: "How many EAs (ea-01, ea-02, ...).") var eas = 1
        @Option(help: "Symbols, comma-separated.") var symbols = "EURUSD,GBPUSD,USDJPY,XAUUSD"
        @Option(help: "Ticks per second, all symbols together.") var rate = 20.0
        @Option(help: "Telemetry endpoint (default: the engine's, on this machine).") var ticks: String?
        @Option(help: "Command router endpoint.") var router: String?
        @Option(help: "Confirmation endpoint.") var confirmations: String?
        @Option(name: .customLong("failure-rate"), help: "Share of fires that fail, 0 to 1.") var failureRate = 0.05
        @Option(name: .customLong("fault"), help: "stop-heartbeats-after=30s (with resume-heartbeats-after=2m to bring them back), no-ticks, drop-confirmations or disconnect-after=1m; repeat for more.")
        var faults: [String] = []
        @Option(help: "Stop after this many seconds.") var seconds: Double?
        @Option(help: "A folder where each EA appends to its tracking file (EA.jsonl) once a minute.") var tracking: String?

        func validate() throws {
            for fault in faults where EASimulator.Fault(fault) == nil {
                throw ValidationError("--fault '\(fault)' is not one of \(EASimulator.Fault.forms.joined(separator: ", "))")
            }
            if rate <= 0 { throw ValidationError("--rate must be more than 0") }
        }

        func run() async throws {
            let flows = try global.engineConfig().flows
            var configuration = EASimulator.Configuration()
            configuration.eas = eas
            configuration.symbols = symbols.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
            configuration.ticksPerSecond = rate
            configuration.ticks = ticks ?? FlowEndpoints.local(flows.telemetryIn)
            configuration.router = router ?? FlowEndpoints.local(flows.router)
            configuration.confirmations = confirmations ?? FlowEndpoints.local(flows.confirmations)
            configuration.failureRate = failureRate
            configuration.faults = faults.compactMap(EASimulator.Fault.init)
            configuration.trackingDirectory = tracking
            configuration.duration = seconds.map { .milliseconds(Int64($0 * 1000)) }
            let settings = configuration
            try await runUntilStopped { stopped in
                try EASimulator(settings, logger: Logger(label: "runbook.sim.ea")).run(context: try ZMQContext(), shouldStop: stopped)
            }
        }
    }

    struct WebApp: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "webapp", abstract: "A simulated web app: each signal becomes a fire for a simulated EA, in turn.")

        @OptionGroup var global: GlobalOptions
        @Option(help: "Where to read signals (default: the engine's signal endpoint, the signal engine's PUB).") var signals: String?
        @Option(help: "Where to push fires (default: the engine's command queue).") var queue: String?
        @Option(help: "How many EAs (ea-01, ea-02, ...) take the fires in turn.") var eas = 1
        @Option(help: "Lot size of each fire.") var lot = 0.1
        @Option(help: "Stop after this many seconds.") var seconds: Double?

        func validate() throws {
            if eas < 1 { throw ValidationError("--eas must be 1 or more") }
            if !(lot > 0 && lot <= FlowMessage.maximumLot) { throw ValidationError("--lot must be above 0 and at most \(FlowMessage.maximumLot)") }
        }

        func run() async throws {
            let flows = try global.engineConfig().flows
            var configuration = WebAppSimulator.Configuration()
            configuration.signals = signals ?? FlowEndpoints.local(flows.signals)
            configuration.commandQueue = queue ?? FlowEndpoints.local(flows.commandQueue)
            configuration.targets = (1...eas).map { String(format: "ea-%02d", $0) }
            configuration.lot = lot
            configuration.duration = seconds.map { .milliseconds(Int64($0 * 1000)) }
            let settings = configuration
            try await runUntilStopped { stopped in
                try WebAppSimulator(settings, logger: Logger(label: "runbook.sim.webapp")).run(context: try ZMQContext(), shouldStop: stopped)
            }
        }
    }

    struct Signals: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "signals", abstract: "A simulated signal engine: ticks in, signals out.")

        @OptionGroup var global: GlobalOptions
        @Option(help: "Where to read ticks (default: the engine's telemetry PUB on this machine).") var ticks: String?
        @Option(help: "Where to publish signals (bound; default: the engine's signal endpoint).") var signals: String?
        @Option(help: "A signal after this many ticks of a symbol.") var every = 50
        @Option(help: "Stop after this many seconds.") var seconds: Double?

        func run() async throws {
            let flows = try global.engineConfig().flows
            var configuration = SignalSimulator.Configuration()
            configuration.ticks = ticks ?? FlowEndpoints.local(flows.telemetryOut)
            configuration.signals = signals ?? flows.signals
            configuration.every = max(1, every)
            configuration.duration = seconds.map { .milliseconds(Int64($0 * 1000)) }
            let settings = configuration
            try await runUntilStopped { stopped in
                try SignalSimulator(settings, logger: Logger(label: "runbook.sim.signals")).run(context: try ZMQContext(), shouldStop: stopped)
            }
        }
    }
}

/// Runs a blocking loop on a thread of its own until it ends or SIGINT/SIGTERM asks it to stop.
func runUntilStopped(_ body: @escaping @Sendable (_ stopped: () -> Bool) throws -> Void) async throws {
    // Started by `up --simulate`, a simulator ends with the engine, even one killed with SIGKILL.
    let withParent = ProcessInfo.processInfo.environment["RUNBOOK_EXIT_WITH_PARENT"] == "1"
    let parent = getppid()
    let task = Task.detached { () -> String? in
        do {
            try body { Task.isCancelled || (withParent && getppid() != parent) }
            return nil
        } catch {
            return "\(error)"
        }
    }
    let cancellation = SignalCancellation(cancelling: task, quietly: true)
    let failure = await task.value
    withExtendedLifetime(cancellation) {}
    if let failure {
        Console.error("error: \(failure)")
        throw ExitStatus.failed.code
    }
}
