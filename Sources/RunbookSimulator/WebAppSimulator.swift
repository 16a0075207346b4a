import Foundation
import Logging
import RunbookFlows
import RunbookZMQ

/// A simulated web app: reads the signal engine's signals and turns each into a fire for one of
/// the simulated EAs (in turn), pushed on the engine's command queue, as the real web app does
/// when a user's strategy takes a signal.
public final class WebAppSimulator {
    public struct Configuration: Sendable {
        /// The signal engine's PUB.
        public var signals = "tcp://127.0.0.1:5557"
        /// The engine's command queue (PULL).
        public var commandQueue = "ipc:///tmp/runbook_cmdqueue"
        /// The EAs fires go to, in turn.
        public var targets = ["ea-01"]
        public var lot = 0.1
        public var duration: Duration?

        public init() {}
    }

    private let configuration: Configuration
    private let logger: Logger
    public private(set) var fired = 0

    public init(_ configuration: Configuration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    /// The fire a signal becomes: for `target`, with the signal's stop loss and take profit; its
    /// id unique across restarts of the simulator.
    public static func fire(for signal: FlowMessage.Signal, target: String, lot: Double, sequence: Int, startedMs: Int64) -> FlowMessage.Fire {
        FlowMessage.Fire(
            id: "web-\(startedMs)-\(sequence)", target: target, symbol: signal.symbol, direction: signal.direction, lot: lot,
            stopLoss: signal.stopLoss, takeProfit: signal.takeProfit
        )
    }

    public func run(context: ZMQContext, shouldStop: () -> Bool = { false }) throws(ZMQError) {
        let sub = try ZMQSocket(context, .sub)
        try sub.subscribe()
        try sub.connect(configuration.signals)
        let push = try ZMQSocket(context, .push)
        try push.connect(configuration.commandQueue)
        var poller = ZMQPoller([sub])
        let start = ContinuousClock.now
        let startedMs = Int64(Date().timeIntervalSince1970 * 1000)
        logger.info("simulating a web app: signals from \(configuration.signals), fires for \(configuration.targets.joined(separator: ", ")) to \(configuration.commandQueue)")
        while !shouldStop() {
            if let duration = configuration.duration, start.duration(to: .now) >= duration { break }
            guard try !poller.poll(timeout: .milliseconds(100)).isEmpty else { continue }
            while let parts = try sub.receive(dontWait: true) {
                guard parts.count == 1, case .signal(let signal)? = try? FlowMessage.parse(parts[0]) else { continue }
                let target = configuration.targets[fired % max(1, configuration.targets.count)]
                fired += 1
                let fire = Self.fire(for: signal, target: target, lot: configuration.lot, sequence: fired, startedMs: startedMs)
                // A queue nobody takes (the engine restarting) drops the fire, as the web app's would fail.
                if try !push.send(fire.json, dontWait: true) {
                    logger.warning("the command queue \(configuration.commandQueue) takes nothing: fire \(fire.id) dropped")
                }
            }
        }
        logger.notice("web app simulator stopping: \(fired) fires from signals")
    }
}
