import Foundation
import Logging
import RunbookFlows
import RunbookZMQ

/// Simulated MT5 Expert Advisors: ticks and heartbeats to the telemetry bridge, a DEALER per EA
/// on the command router that fills fires after a latency (some fail), confirmations and later
/// closes with a pnl, and once a minute each EA's positions, to the confirmation listener. Faults can be switched on for the incident runbooks.
public final class EASimulator {
    public enum Fault: Sendable, Equatable {
        case stopHeartbeats(after: Duration)
        /// With `stopHeartbeats`: heartbeats come back this long after the start.
        case resumeHeartbeats(after: Duration)
        case noTicks
        case dropConfirmations
        case disconnect(after: Duration)

        /// Every fault as it is written, a duration where it takes one.
        public static let forms = [
            "stop-heartbeats-after=DURATION", "resume-heartbeats-after=DURATION", "no-ticks", "drop-confirmations", "disconnect-after=DURATION",
        ]

        /// `stop-heartbeats-after=30s`, `resume-heartbeats-after=2m`, `no-ticks`, `drop-confirmations`, `disconnect-after=1m`.
        public init?(_ text: String) {
            let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
            let duration = parts.count == 2 ? Self.duration(parts[1]) : nil
            switch parts[0] {
            case "no-ticks" where parts.count == 1: self = .noTicks
            case "drop-confirmations" where parts.count == 1: self = .dropConfirmations
            case "stop-heartbeats-after": guard let duration else { return nil }; self = .stopHeartbeats(after: duration)
            case "disconnect-after": guard let duration else { return nil }; self = .disconnect(after: duration)
            case "resume-heartbeats-after": guard let duration else { return nil }; self = .resumeHeartbeats(after: duration)
            default: return nil
            }
        }

        private static func duration(_ text: String) -> Duration? {
            let number = text.prefix { $0.isNumber || $0 == "." }
            guard let value = Double(number) else { return nil }
            let scale: Double
            switch text.dropFirst(number.count) {
            case "ms": scale = 0.001
            case "s", "": scale = 1
            case "m": scale = 60
            case "h": scale = 3600
            default: return nil
            }
            // A day at most: a fault is for tests and demos.
            guard value * scale <= 86_400 else { return nil }
            return .milliseconds(Int64((value * scale * 1000).rounded()))
        }
    }

    public struct Configuration: Sendable {
        public var eas = 1
        public var symbols = ["EURUSD", "GBPUSD", "USDJPY", "XAUUSD"]
        public var ticksPerSecond = 20.0
        public var ticks = "tcp://127.0.0.1:5556"
        public var router = "tcp://127.0.0.1:5555"
        public var confirmations = "tcp://127.0.0.1:5558"
        public var account = "5012345"
        public var heartbeatInterval: Duration = .seconds(1)
        public var fillLatency: Duration = .milliseconds(50)
        public var failureRate = 0.05
        public var closeAfter: Duration = .seconds(5)
        /// Share of closed trades that make money.
        public var winRate = 0.9
        public var faults: [Fault] = []
        /// Where each EA appends a line to its tracking file (`TARGET.jsonl`) once a minute while
        /// it heartbeats, as the MT5 EAs do; nil: none.
        public var trackingDirectory: String?
        public var trackingInterval: Duration = .seconds(60)
        /// How often each EA reports the positions it holds on the confirmation port.
        public var positionsInterval: Duration = .seconds(60)
        /// Stop after this long; nil runs until stopped.
        public var duration: Duration?

        public init() {}
    }

    private struct Pending {
        var due: ContinuousClock.Instant
        var message: String
        /// A fill: the position it opens, held from when its confirmation is sent.
        var opens: (target: String, ticket: Int64, symbol: String, lots: Double)? = nil
        /// A close: the position it ends, by EA and ticket.
        var closes: (target: String, ticket: Int64)? = nil
    }

    private let configuration: Configuration
    private let logger: Logger
    private var prices: [String: Double]
    private var lastTime: Int64 = 0
    private var pending: [Pending] = []
    private var ticket: Int64 = 100_000
    /// What each EA holds, by ticket: filled and not yet closed.
    private var held: [String: [Int64: (symbol: String, lots: Double)]] = [:]
    private var random = SystemRandomNumberGenerator()
    public private(set) var sent = (ticks: 0, heartbeats: 0, fills: 0, failures: 0, closes: 0)

    public init(_ configuration: Configuration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        prices = Dictionary(uniqueKeysWithValues: configuration.symbols.map { ($0, Self.basePrice($0)) })
    }

    public var targets: [String] { (1...max(1, configuration.eas)).map { String(format: "ea-%02d", $0) } }

    /// Runs until the duration passes or `shouldStop` says so.
    public func run(context: ZMQContext, shouldStop: () -> Bool = { false }) throws(ZMQError) {
        let ticks = try ZMQSocket(context, .push)
        try ticks.connect(configuration.ticks)
        let confirmations = try ZMQSocket(context, .push)
        try confirmations.connect(configuration.confirmations)
        var dealers: [(target: String, socket: ZMQSocket)] = []
        for target in targets {
            let dealer = try ZMQSocket(context, .dealer)
            try dealer.setRoutingID(target)
            try dealer.connect(configuration.router)
            dealers.append((target, dealer))
        }
        var poller = ZMQPoller(dealers.map(\.socket))
        let clock = ContinuousClock()
        let start = clock.now
        let tickGap = Duration.milliseconds(Int64(1000 / max(configuration.ticksPerSecond, 0.001)))
        var nextTick = start
        var nextHeartbeat = start
        var nextTracking = start
        var nextPositions = start + .seconds(1)
        var connected = true
        logger.info("simulating \(dealers.count) EA(s) over \(configuration.symbols.joined(separator: ", ")) at \(configuration.ticksPerSecond) ticks/s", metadata: ["faults": "\(configuration.faults)"])

        while !shouldStop() {
            let now = clock.now
            let elapsed = start.duration(to: now)
            if let duration = configuration.duration, elapsed >= duration { break }
            if connected, case .disconnect(let after)? = configuration.faults.first(where: { if case .disconnect = $0 { return true } else { return false } }), elapsed >= after {
                logger.warning("fault: disconnecting every socket")
                dealers.forEach { $0.socket.close() }
                ticks.close()
                confirmations.close()
                connected = false
                poller = ZMQPoller([])
            }
            guard connected else {
                Thread.sleep(forTimeInterval: 0.05)
                continue
            }
            if now >= nextTracking, !heartbeatsStopped(at: elapsed) {
                for (target, _) in dealers { track(target) }
                nextTracking = now + configuration.trackingInterval
            }
            if now >= nextPositions {
                if !heartbeatsStopped(at: elapsed) {
                    for (target, _) in dealers { try confirmations.send(positions(target), dontWait: true) }
                }
                nextPositions = now + configuration.positionsInterval
            }
            if now >= nextHeartbeat {
                if !heartbeatsStopped(at: elapsed) {
                    for (target, dealer) in dealers {
                        let beat = heartbeat(target)
                        try ticks.send(beat, dontWait: true)
                        try dealer.send(beat, dontWait: true)
                        sent.heartbeats += 1
                    }
                }
                nextHeartbeat = now + configuration.heartbeatInterval
            }
            if now >= nextTick {
                if !configuration.faults.contains(.noTicks) {
                    let symbol = configuration.symbols.randomElement(using: &random) ?? "EURUSD"
                    try ticks.send(tick(symbol), dontWait: true)
                    sent.ticks += 1
                }
                nextTick = nextTick + tickGap < now ? now + tickGap : nextTick + tickGap
            }
            for index in pending.indices.reversed() where pending[index].due <= now {
                if !configuration.faults.contains(.dropConfirmations) { try confirmations.send(pending[index].message, dontWait: true) }
                if let (target, ticket, symbol, lots) = pending[index].opens { held[target, default: [:]][ticket] = (symbol, lots) }
                if let (target, ticket) = pending[index].closes { held[target]?[ticket] = nil }
                pending.remove(at: index)
            }
            let nextDue = ([nextTick, nextHeartbeat] + pending.map(\.due)).min()!
            let wait = max(.zero, min(now.duration(to: nextDue), .milliseconds(100)))
            for index in try poller.poll(timeout: wait) {
                while let parts = try dealers[index].socket.receive(dontWait: true) {
                    receivedFire(parts.last ?? [], at: clock.now)
                }
            }
        }
        logger.notice("simulator stopping: sent \(sent.ticks) ticks, \(sent.heartbeats) heartbeats, \(sent.fills) fills, \(sent.failures) failures, \(sent.closes) closes")
    }

    private func heartbeatsStopped(at elapsed: Duration) -> Bool {
        let resumed = configuration.faults.contains { if case .resumeHeartbeats(let after) = $0 { return elapsed >= after } else { return false } }
        return !resumed && configuration.faults.contains { if case .stopHeartbeats(let after) = $0 { return elapsed >= after } else { return false } }
    }

    private func receivedFire(_ frame: [UInt8], at now: ContinuousClock.Instant) {
        guard case .fire(let fire)? = try? FlowMessage.parse(frame) else {
            logger.warning("ignored a message that is not a fire")
            return
        }
        let price = prices[fire.symbol] ?? Self.basePrice(fire.symbol)
        // A canary (the fire_round_trip check's) is filled at once and never closed: it proves
        // the path, it is no trade for the win rates.
        if fire.id.hasPrefix("canary-") {
            ticket += 1
            pending.append(Pending(due: now + configuration.fillLatency, message: Self.json([
                "type": "confirmation", "fire_id": fire.id, "status": "filled", "ticket": ticket, "price": Self.round(price, fire.symbol), "time_msc": timeMsc(),
            ])))
            return
        }
        if Double.random(in: 0..<1, using: &random) < configuration.failureRate {
            sent.failures += 1
            pending.append(Pending(due: now + configuration.fillLatency, message: Self.json([
                "type": "confirmation", "fire_id": fire.id, "status": "failed", "error": "requote: price moved", "time_msc": timeMsc(),
            ])))
            return
        }
        ticket += 1
        sent.fills += 1
        pending.append(Pending(due: now + configuration.fillLatency, message: Self.json([
            "type": "confirmation", "fire_id": fire.id, "status": "filled", "ticket": ticket, "price": Self.round(price, fire.symbol), "time_msc": timeMsc(),
        ]), opens: (fire.target, ticket, fire.symbol, fire.lot)))
        // Nine trades in ten win, as a strategy meeting the shipped win-rate checks' target does:
        // a demo is green unless a fault is switched on.
        let won = Double.random(in: 0..<1, using: &random) < configuration.winRate
        let move = (won ? Double.random(in: 5...40, using: &random) : -Double.random(in: 5...30, using: &random)) * Self.pip(fire.symbol)
        let exit = price + (fire.direction == "BUY" ? move : -move)
        let pnl = (move / Self.pip(fire.symbol)) * fire.lot * 10
        sent.closes += 1
        pending.append(Pending(due: now + configuration.closeAfter, message: Self.json([
            "type": "close", "fire_id": fire.id, "ticket": ticket, "exit_price": Self.round(exit, fire.symbol), "pnl": (pnl * 100).rounded() / 100, "time_msc": timeMsc(),
        ]), closes: (fire.target, ticket)))
    }

    /// `count` tick frames as the simulator sends them, one every `gapMs` from `startMsc`, over
    /// its symbols at random: the data the store's benchmark packs.
    public func frames(count: Int, startMsc: Int64, gapMs: Int64) -> [String] {
        lastTime = startMsc - 1
        return (0..<count).map { index in
            let symbol = configuration.symbols.randomElement(using: &random) ?? "EURUSD"
            return tick(symbol, at: startMsc + Int64(index) * gapMs)
        }
    }

    private func tick(_ symbol: String, at time: Int64? = nil) -> String {
        let pip = Self.pip(symbol)
        let bid = max(pip, (prices[symbol] ?? Self.basePrice(symbol)) + Double.random(in: -2...2, using: &random) * pip)
        prices[symbol] = bid
        let spread = Self.spread(symbol) * Double.random(in: 0.8...1.6, using: &random)
        return "{\"type\":\"tick\",\"symbol\":\"\(symbol)\",\"bid\":\(Self.round(bid, symbol)),\"ask\":\(Self.round(bid + spread, symbol)),\"time_msc\":\(time ?? timeMsc()),\"volume\":0}"
    }

    /// Starts each simulated EA's tracking file, before the engine's checks first look for them
    /// (the simulator's process starts a moment after them).
    public static func startTracking(eas: Int, in folder: String, account: String = Configuration().account) {
        let simulator = EASimulator({ var configuration = Configuration(); configuration.eas = eas; configuration.trackingDirectory = folder; configuration.account = account; return configuration }(), logger: Logger(label: "runbook.sim"))
        for target in simulator.targets { simulator.track(target) }
    }

    /// One line on the EA's tracking file; a file that cannot be written is logged once.
    private func track(_ target: String) {
        guard let folder = configuration.trackingDirectory else { return }
        let path = (folder as NSString).appendingPathComponent("\(target).jsonl")
        let line = "{\"type\":\"tracking\",\"target_uuid\":\"\(target)\",\"account\":\"\(configuration.account)\",\"time_msc\":\(Int64(Date().timeIntervalSince1970 * 1000))}\n"
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            if !FileManager.default.fileExists(atPath: path) { FileManager.default.createFile(atPath: path, contents: nil) }
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
            defer { try? handle.close() }
            try handle.seekToEnd()
            try handle.write(contentsOf: Data(line.utf8))
        } catch {
            if !trackingFailed {
                trackingFailed = true
                logger.warning("cannot write the tracking file \(path): \(error)")
            }
        }
    }

    private var trackingFailed = false

    /// The EA's positions report: what it holds, canaries aside (it never holds those).
    private func positions(_ target: String) -> String {
        let positions = (held[target] ?? [:]).sorted { $0.key < $1.key }.map { ["ticket": $0.key, "symbol": $0.value.symbol, "lots": $0.value.lots] as [String: Any] }
        return Self.json(["type": "positions", "target_uuid": target, "positions": positions, "time_msc": timeMsc()])
    }

    private func heartbeat(_ target: String) -> String {
        "{\"type\":\"heartbeat\",\"target_uuid\":\"\(target)\",\"account\":\"\(configuration.account)\",\"time_msc\":\(timeMsc())}"
    }

    /// Milliseconds since 1970, never the same twice and never going back.
    private func timeMsc() -> Int64 {
        lastTime = max(Int64(Date().timeIntervalSince1970 * 1000), lastTime + 1)
        return lastTime
    }

    static func basePrice(_ symbol: String) -> Double {
        ["EURUSD": 1.0850, "GBPUSD": 1.2650, "USDJPY": 151.20, "XAUUSD": 2400.0, "AUDUSD": 0.6550, "USDCHF": 0.8850][symbol] ?? 1.0
    }

    static func pip(_ symbol: String) -> Double {
        symbol.hasSuffix("JPY") ? 0.01 : symbol.hasPrefix("XAU") ? 0.1 : 0.0001
    }

    static func spread(_ symbol: String) -> Double {
        symbol.hasPrefix("XAU") ? 0.30 : pip(symbol) * 1.5
    }

    static func round(_ price: Double, _ symbol: String) -> Double {
        let digits = symbol.hasSuffix("JPY") ? 1e3 : symbol.hasPrefix("XAU") ? 1e2 : 1e5
        return (price * digits).rounded() / digits
    }

    static func json(_ object: [String: Any]) -> String {
        String(decoding: try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
    }
}
