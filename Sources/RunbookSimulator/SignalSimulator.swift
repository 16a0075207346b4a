import Foundation
import Logging
import RunbookFlows
import RunbookZMQ

/// A simulated signal engine: reads ticks from the bridge's PUB and publishes a signal on its
/// own PUB whenever a symbol has moved enough ticks in one direction.
public final class SignalSimulator {
    public struct Configuration: Sendable {
        public var ticks = "tcp://127.0.0.1:5560"
        public var signals = "tcp://*:5557"
        /// A signal after this many ticks of a symbol.
        public var every = 50
        public var duration: Duration?

        public init() {}
    }

    private let configuration: Configuration
    private let logger: Logger
    private var seen: [String: (count: Int, first: Double)] = [:]
    public private(set) var published = 0

    public init(_ configuration: Configuration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
    }

    public func run(context: ZMQContext, shouldStop: () -> Bool = { false }) throws(ZMQError) {
        let sub = try ZMQSocket(context, .sub)
        try sub.subscribe()
        try sub.connect(configuration.ticks)
        let pub = try ZMQSocket(context, .pub)
        try pub.bind(configuration.signals)
        var poller = ZMQPoller([sub])
        let start = ContinuousClock.now
        logger.info("simulating a signal engine: ticks from \(configuration.ticks), signals on \(configuration.signals)")
        while !shouldStop() {
            if let duration = configuration.duration, start.duration(to: .now) >= duration { break }
            guard try !poller.poll(timeout: .milliseconds(100)).isEmpty else { continue }
            while let parts = try sub.receive(dontWait: true) {
                guard case .tick(let symbol, let bid, _, let time, _)? = try? FlowMessage.parse(parts[0]) else { continue }
                var state = seen[symbol] ?? (0, bid)
                state.count += 1
                if state.count >= configuration.every {
                    published += 1
                    let direction = bid >= state.first ? "BUY" : "SELL"
                    let pip = EASimulator.pip(symbol)
                    let stop = direction == "BUY" ? bid - 20 * pip : bid + 20 * pip
                    let target = direction == "BUY" ? bid + 40 * pip : bid - 40 * pip
                    try pub.send(EASimulator.json([
                        "type": "signal", "signal_id": "S\(published)", "symbol": symbol, "direction": direction,
                        "entry": EASimulator.round(bid, symbol), "sl": EASimulator.round(stop, symbol), "tp": EASimulator.round(target, symbol),
                        "confidence": Int.random(in: 60...95), "time_msc": time,
                    ]), dontWait: true)
                    state = (0, bid)
                }
                seen[symbol] = state
            }
        }
    }
}
