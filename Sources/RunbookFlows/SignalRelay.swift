import Foundation
import Logging
import RunbookZMQ

/// Signal engine (binds PUB 5557) -> SUB -> relay -> signals table, and to a URL when one is set.
public final class SignalRelay: Flow, @unchecked Sendable {
    public let name = "signal-relay"
    public let counters = FlowCounters()
    public let source: String
    /// The relay connects rather than binds: nothing of its own to verify after a restart.
    public var bindEndpoints: [String] { [] }
    public var listening: [String] { [] }

    private let store: (any FlowStore)?
    private let forward: (@Sendable (FlowMessage.Signal) -> Void)?
    private let log: MalformedLog
    private let logger: Logger
    private var sub: ZMQSocket?
    private var poller = ZMQPoller([])

    public init(source: String, store: (any FlowStore)?, logger: Logger, forward: (@Sendable (FlowMessage.Signal) -> Void)? = nil) {
        self.source = source
        self.store = store
        self.forward = forward
        self.logger = logger
        self.log = MalformedLog(logger: logger, flow: "signal-relay")
    }

    public func open(_ context: ZMQContext) throws(ZMQError) {
        let sub = try ZMQSocket(context, .sub)
        try sub.setMaxMessageSize(16 << 20)
        try sub.subscribe()
        try sub.connect(source)
        self.sub = sub
        poller = ZMQPoller([sub])
    }

    public func serve(timeout: Duration) throws(ZMQError) {
        guard let sub, try !poller.poll(timeout: timeout).isEmpty else { return }
        while let parts = try sub.receive(dontWait: true) {
            counters.received()
            do {
                guard parts.count == 1 else { throw MalformedMessage(reason: .multipart, detail: "\(parts.count) frames") }
                let message = try FlowMessage.parse(parts[0])
                guard case .signal(let signal) = message else { throw MalformedMessage(reason: .unknownType, detail: "\(source) carries signal messages") }
                do { try store?.recordSignal(signal, at: Date()) } catch { logger.error("cannot record signal \(signal.id): \(error)", metadata: ["flow": "\(name)"]) }
                forward?(signal)
                counters.sent()
            } catch let problem as MalformedMessage {
                counters.malformed(problem.reason)
                log.drop(problem)
            } catch {
                logger.error("signal relay: \(error)")
            }
        }
    }

    public func close() {
        sub?.close()
        sub = nil
    }
}
