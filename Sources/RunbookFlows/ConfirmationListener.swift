import Foundation
import Logging
import RunbookZMQ

/// EA -> PUSH -> PULL 5558 -> listener -> fires table. Confirmations move fires to FILLED or FAILED;
/// close messages record trades with their pnl; positions messages are the EA's own account of
/// what it holds, for reconciliation and exposure.
public final class ConfirmationListener: Flow, @unchecked Sendable {
    public let name = "confirmation-listener"
    public let counters = FlowCounters()
    public let input: String
    public private(set) var listening: [String] = []
    public var bindEndpoints: [String] { [input] }

    private let store: (any FlowStore)?
    private let access: FlowAccess?
    private let log: MalformedLog
    private let logger: Logger
    private var pull: ZMQSocket?
    private var poller = ZMQPoller([])

    public init(input: String, store: (any FlowStore)?, logger: Logger, access: FlowAccess? = nil) {
        self.input = input
        self.store = store
        self.access = access
        self.logger = logger
        self.log = MalformedLog(logger: logger, flow: "confirmation-listener")
    }

    public func open(_ context: ZMQContext) throws(ZMQError) {
        let pull = try ZMQSocket(context, .pull)
        try pull.setMaxMessageSize(16 << 20)
        try access?.guardSocket(pull, as: .confirmations, address: input, counters: counters)
        try pull.bind(input)
        self.pull = pull
        poller = ZMQPoller([pull])
        listening = [pull].flatMap(\.endpoints)
    }

    public func serve(timeout: Duration) throws(ZMQError) {
        guard let pull, try !poller.poll(timeout: timeout).isEmpty else { return }
        let curve = access?.usesCurve == true
        while let (parts, sender) = try pull.receiveWithSender(dontWait: true) {
            counters.received()
            guard parts.count == 1 else {
                drop(MalformedMessage(reason: .multipart, detail: "\(parts.count) frames"))
                continue
            }
            do {
                let message = try FlowMessage.parse(parts[0])
                if curve, let access, try !mayAnswer(message, userID: sender.userID, access: access) { continue }
                try handle(message)
            } catch let problem as MalformedMessage {
                drop(problem)
            } catch {
                logger.error("cannot record a confirmation: \(error)", metadata: ["flow": "\(name)"])
            }
        }
    }

    /// With CURVE: whether the key a confirmation or close came with may use the routing id of
    /// the EA its fire was sent to. One EA's key cannot fill, fail or close another's fires.
    private func mayAnswer(_ message: FlowMessage, userID: String?, access: FlowAccess) throws -> Bool {
        let fireID: String
        switch message {
        case .confirmation(let confirmation): fireID = confirmation.fireID
        case .close(let close): fireID = close.fireID
        // An EA reports its own positions only.
        case .positions(let report): return access.allows(userID, toUse: report.target, on: .confirmations, "reported the positions of \(report.target)")
        default: return true
        }
        guard let target = try store?.fireTarget(id: fireID) else { return true }
        return access.allows(userID, toUse: target, on: .confirmations, "answered fire \(fireID) of \(target)")
    }

    private func handle(_ message: FlowMessage) throws {
        let now = Date()
        switch message {
        case .confirmation(let confirmation):
            switch try store?.recordConfirmation(confirmation, at: now) ?? .applied {
            case .applied: counters.sent()
            case .unknownFire: throw MalformedMessage(reason: .unknownFire, detail: "confirmation for unknown fire \(confirmation.fireID)")
            case .alreadyFinal: throw MalformedMessage(reason: .finalFire, detail: "confirmation for fire \(confirmation.fireID), which is already FILLED or FAILED")
            }
        case .close(let close):
            guard try store?.recordClose(close, at: now) ?? true else {
                throw MalformedMessage(reason: .unknownFire, detail: "close for unknown fire \(close.fireID)")
            }
            counters.sent()
        case .positions(let report):
            try store?.recordPositions(report, at: now)
            counters.sent()
        default:
            throw MalformedMessage(reason: .unknownType, detail: "\(input) takes confirmation, close and positions messages")
        }
    }

    private func drop(_ problem: MalformedMessage) {
        counters.malformed(problem.reason)
        log.drop(problem)
    }

    public func close() {
        pull?.close()
        pull = nil
    }
}
