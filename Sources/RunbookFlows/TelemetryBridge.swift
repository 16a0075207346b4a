import Foundation
import Logging
import RunbookZMQ

/// EA -> PULL 5556 -> bridge -> PUB 5560 -> signal engine. Frames are relayed unchanged once they
/// are known to be valid JSON ticks within `TickLimits` or heartbeats (`FrameScanner`); ticks are counted
/// per symbol and handed on, heartbeats update the EA registry.
public final class TelemetryBridge: Flow, @unchecked Sendable {
    public let name = "telemetry-bridge"
    public let counters = FlowCounters()
    public let input: String
    public let output: String
    public private(set) var listening: [String] = []
    public var bindEndpoints: [String] { [input, output] }

    private let heartbeats: HeartbeatBook
    private let access: FlowAccess?
    private let onTick: (@Sendable (UnsafeRawBufferPointer) -> Void)?
    /// True when whoever takes the ticks cannot keep up: the bridge stops reading until it can.
    private let isBackedUp: (@Sendable () -> Bool)?
    private let log: MalformedLog
    private let logger: Logger
    private var pull: ZMQSocket?
    private var pub: ZMQSocket?
    private var poller = ZMQPoller([])
    /// Whether the last turn emptied the queue: only then does the next one wait in a poll, so a
    /// steady stream goes from batch to batch without a system call in between.
    private var drained = true
    /// Ticks per symbol, kept from turn to turn so that known symbols cost no allocation.
    private var tally = SymbolTally()

    /// Frames handled per turn before the loop looks up again.
    static let batch = 4096

    public init(
        input: String, output: String, store: (any FlowStore)?, logger: Logger,
        onTick: (@Sendable (UnsafeRawBufferPointer) -> Void)? = nil, isBackedUp: (@Sendable () -> Bool)? = nil, access: FlowAccess? = nil
    ) {
        self.isBackedUp = isBackedUp
        self.access = access
        self.input = input
        self.output = output
        self.heartbeats = HeartbeatBook(store: store, logger: logger)
        self.onTick = onTick
        self.logger = logger
        self.log = MalformedLog(logger: logger, flow: "telemetry-bridge")
    }

    public func open(_ context: ZMQContext) throws(ZMQError) {
        let pull = try ZMQSocket(context, .pull)
        try pull.setHighWaterMarks(send: 1000, receive: 100_000)
        try pull.setMaxMessageSize(16 << 20)
        try access?.guardSocket(pull, as: .telemetryIn, address: input, counters: counters)
        try pull.bind(input)
        let pub = try ZMQSocket(context, .pub)
        try pub.setHighWaterMarks(send: 100_000, receive: 1000)
        try access?.guardSocket(pub, as: .telemetryOut, address: output, counters: counters)
        try pub.bind(output)
        self.pull = pull
        self.pub = pub
        poller = ZMQPoller([pull])
        listening = [pull, pub].flatMap(\.endpoints)
    }

    public func serve(timeout: Duration) throws(ZMQError) {
        if isBackedUp?() == true {
            // Unread frames stay in libzmq's queues, then the EA's: held back, never lost.
            Thread.sleep(forTimeInterval: 0.01)
            return
        }
        guard let pull, let pub else { return }
        if drained {
            guard try !poller.poll(timeout: timeout).isEmpty else { return }
        }
        var frames = 0
        var ticks = tally
        tally = SymbolTally()
        var counted = false
        defer {
            // A turn ended by an error counts nothing, its ticks included.
            if !counted { _ = ticks.takeCounts() }
            tally = ticks
        }
        var malformed: [MalformedReason: Int] = [:]
        var heartbeats: [FlowMessage] = []
        let curve = access?.usesCurve == true
        while frames < Self.batch {
            let outcome = try pull.forward(to: pub) { bytes, userID in
                switch FrameScanner.scan(bytes) {
                case .tick(let symbol):
                    ticks.add(bytes, symbol)
                    onTick?(bytes)
                    return true
                case .decodedTick(let symbol):
                    ticks.add(name: symbol)
                    onTick?(bytes)
                    return true
                case .heartbeat(let heartbeat):
                    // With CURVE a key speaks only for the EAs it may use, as on the router.
                    if curve, let access, case .heartbeat(let target, _, _) = heartbeat,
                       !access.allows(userID(), toUse: target, on: .telemetryIn, "sent a heartbeat for \(target)") {
                        return false
                    }
                    heartbeats.append(heartbeat)
                    return true
                case .malformed(let reason):
                    malformed[reason, default: 0] += 1
                    log.drop(MalformedMessage(reason: reason, detail: "\(bytes.count)-byte frame on \(input)"))
                    return false
                }
            }
            if outcome == .nothing {
                drained = true
                break
            }
            if case .multipart(let parts) = outcome {
                malformed[.multipart, default: 0] += 1
                log.drop(MalformedMessage(reason: .multipart, detail: "a message of \(parts) frames on \(input)"))
            }
            frames += 1
        }
        if frames == Self.batch { drained = false }
        let now = Date()
        counters.relayed(frames: frames, ticks: ticks.takeCounts(), malformed: malformed, at: now)
        counted = true
        for case .heartbeat(let target, let account, _) in heartbeats {
            self.heartbeats.note(target: target, account: account, at: now)
        }
    }

    public func close() {
        heartbeats.flush()
        pull?.close()
        pub?.close()
        pull = nil
        pub = nil
    }
}
