import Foundation
import Logging
import Synchronization

/// Keeps the latest heartbeat per EA and writes them to the store about once a second from a
/// queue of its own, so a slow or locked database never holds up a flow's thread.
final class HeartbeatBook: Sendable {
    private struct Entry {
        var account: String?
        var at: Date
        var count: Int
    }

    private let store: (any FlowStore)?
    private let logger: Logger
    private let queue = DispatchQueue(label: "runbook.heartbeats")
    private let pending = Mutex<(entries: [String: Entry], scheduled: Bool)>(([:], false))

    init(store: (any FlowStore)?, logger: Logger) {
        self.store = store
        self.logger = logger
    }

    func note(target: String, account: String?, at date: Date) {
        let schedule = pending.withLock { pending -> Bool in
            var entry = pending.entries[target] ?? Entry(account: nil, at: date, count: 0)
            entry.account = account ?? entry.account
            entry.at = max(entry.at, date)
            entry.count += 1
            pending.entries[target] = entry
            defer { pending.scheduled = true }
            return !pending.scheduled
        }
        if schedule { queue.asyncAfter(deadline: .now() + 1) { [self] in flush() } }
    }

    /// Writes what is pending now (a flow calls this when it closes).
    func flush() {
        let entries = pending.withLock { pending -> [String: Entry] in
            defer { pending = ([:], false) }
            return pending.entries
        }
        for (target, entry) in entries {
            do { try store?.recordHeartbeats(target: target, account: entry.account, at: entry.at, count: entry.count) } catch {
                logger.error("cannot record heartbeats of \(target): \(error)")
            }
        }
    }
}
