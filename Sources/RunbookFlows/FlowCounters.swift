import Foundation
import Synchronization

/// What one flow has seen, shared between its thread and readers.
public final class FlowCounters: Sendable {
    public struct Snapshot: Sendable, Equatable {
        public var received: Int = 0
        public var sent: Int = 0
        public var malformed: [String: Int] = [:]
        public var lastMessageAt: Date?
        /// Ticks per symbol (telemetry bridge).
        public var ticksBySymbol: [String: Int] = [:]
        /// When the last tick was relayed (telemetry bridge).
        public var lastTickAt: Date?
        /// Peers connected to the ROUTER, and those among them that said who they are with a
        /// heartbeat lately (command router).
        public var peers: (connected: Int, identified: Int)?
        /// Peers refused by `FlowAccess`, by reason.
        public var refused: [String: Int] = [:]

        public var malformedTotal: Int { malformed.values.reduce(0, +) }

        public static func == (lhs: Snapshot, rhs: Snapshot) -> Bool {
            lhs.received == rhs.received && lhs.sent == rhs.sent && lhs.malformed == rhs.malformed && lhs.lastMessageAt == rhs.lastMessageAt
                && lhs.ticksBySymbol == rhs.ticksBySymbol && lhs.lastTickAt == rhs.lastTickAt
                && lhs.peers?.connected == rhs.peers?.connected && lhs.peers?.identified == rhs.peers?.identified && lhs.refused == rhs.refused
        }
    }

    private let state = Mutex(Snapshot())

    public init() {}

    public var snapshot: Snapshot { state.withLock { $0 } }

    public func received(at date: Date = Date()) {
        state.withLock {
            $0.received += 1
            $0.lastMessageAt = date
        }
    }

    public func sent(_ count: Int = 1) {
        state.withLock { $0.sent += count }
    }

    public func peers(connected: Int, identified: Int) {
        state.withLock { $0.peers = (connected, identified) }
    }

    public func malformed(_ reason: MalformedReason) {
        state.withLock { $0.malformed[reason.rawValue, default: 0] += 1 }
    }

    public func refused(_ reason: RefusalReason) {
        state.withLock { $0.refused[reason.rawValue, default: 0] += 1 }
    }

    /// Counts a batch from the hot path in one lock.
    func relayed(frames: Int, ticks: [(symbol: String, count: Int)], malformed: [MalformedReason: Int], at date: Date) {
        state.withLock {
            $0.received += frames
            $0.sent += frames - malformed.values.reduce(0, +)
            for (symbol, count) in ticks { $0.ticksBySymbol[symbol, default: 0] += count }
            if !ticks.isEmpty { $0.lastTickAt = date }
            for (reason, count) in malformed { $0.malformed[reason.rawValue, default: 0] += count }
            if frames > 0 { $0.lastMessageAt = date }
        }
    }
}
