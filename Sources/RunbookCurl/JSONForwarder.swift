import CCurl
import Foundation
import Logging
import Synchronization

/// POSTs JSON documents to a URL, one after another on a queue of its own, so the sender (a flow's
/// thread) never waits on the network. At most `capacity` documents wait; beyond that they are
/// dropped and counted, so a dead endpoint cannot eat the engine's memory.
public final class JSONForwarder: Sendable {
    public let url: String
    public let capacity: Int
    private let queue = DispatchQueue(label: "runbook.forwarder")
    private let logger: Logger
    private let state = Mutex<(waiting: Int, sent: Int, failed: Int, dropped: Int, lastLogged: Date)>((0, 0, 0, 0, .distantPast))

    public init(url: String, capacity: Int = 1000, logger: Logger) {
        self.url = url
        self.capacity = capacity
        self.logger = logger
    }

    public var counts: (sent: Int, failed: Int, dropped: Int) { state.withLock { ($0.sent, $0.failed, $0.dropped) } }

    public func send(_ json: String) {
        let accepted = state.withLock { state -> Bool in
            guard state.waiting < capacity else {
                state.dropped += 1
                return false
            }
            state.waiting += 1
            return true
        }
        guard accepted else { return }
        queue.async { [self] in
            let problem = post(json)
            let log = state.withLock { state -> Bool in
                state.waiting -= 1
                if problem == nil { state.sent += 1 } else { state.failed += 1 }
                guard problem != nil, Date().timeIntervalSince(state.lastLogged) >= 1 else { return false }
                state.lastLogged = Date()
                return true
            }
            if log, let problem { logger.warning("cannot forward to \(url): \(problem)") }
        }
    }

    /// One POST; the problem, or nil when the server answered 2xx.
    private func post(_ json: String) -> String? {
        do {
            let curl = try CurlEasy()
            try curl.set(CURLOPT_URL, url)
            try curl.set(CURLOPT_POST, 1)
            try curl.set(CURLOPT_COPYPOSTFIELDS, json)
            try curl.set(CURLOPT_TIMEOUT_MS, 5000)
            try curl.setHeaders(["Content-Type": "application/json"])
            curl.setBodyLimit(4096)
            try curl.performNow()
            let status = curl.info(CURLINFO_RESPONSE_CODE)
            return (200..<300).contains(status) ? nil : "answered \(status)"
        } catch {
            return "\(error)"
        }
    }
}
