import Foundation
import Logging

/// Logs dropped messages at most once a second per flow, with how many were dropped since.
final class MalformedLog {
    private let logger: Logger
    private let flow: String
    private var lastLogged = Date.distantPast
    private var suppressed = 0

    init(logger: Logger, flow: String) {
        self.logger = logger
        self.flow = flow
    }

    func drop(_ problem: MalformedMessage, now: Date = Date()) {
        guard now.timeIntervalSince(lastLogged) >= 1 else {
            suppressed += 1
            return
        }
        var metadata: Logger.Metadata = ["flow": "\(flow)", "reason": "\(problem.reason.rawValue)"]
        if suppressed > 0 { metadata["dropped_since_last_log"] = "\(suppressed)" }
        logger.warning("dropped a malformed message: \(problem.detail)", metadata: metadata)
        lastLogged = now
        suppressed = 0
    }
}
