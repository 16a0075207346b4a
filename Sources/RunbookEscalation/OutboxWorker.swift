import Foundation
import Logging
import RunbookModel
import ServiceLifecycle
import Synchronization

/// Delivers the outbox: per channel, its oldest message first (a channel's messages arrive in
/// order), at most one per the channel's minimum interval, retrying from `retry.min` to
/// `retry.max` (or after the wait a channel asked for) across outages and restarts, and
/// diverting to the policy's fallback channel after repeated failures.
public final class OutboxWorker<C: Clock>: Service, Sendable where C.Duration == Duration {
    private let store: any IncidentStore
    private let channels: [any NotificationChannel]
    private let policy: EscalationPolicy
    private let clock: C
    private let now: @Sendable () -> Date
    private let logger: Logger
    private let poll: Duration
    /// Bumped when a message is queued; the channel loops look at it while they wait.
    private let wakes = Atomic<Int>(0)
    /// Whether it delivers for a fleet's leader, taking over from another engine that may have
    /// died mid-send (nobody is there to ask whether the message arrived): such a message is sent
    /// again, marked as a possible duplicate, rather than left uncertain.
    private let takingOver: Bool

    public init(
        store: any IncidentStore, channels: [any NotificationChannel], policy: EscalationPolicy, clock: C,
        now: @escaping @Sendable () -> Date = { Date() }, logger: Logger = Logger(label: "runbook.outbox"), poll: Duration = .seconds(1),
        takingOver: Bool = false
    ) {
        self.takingOver = takingOver
        self.store = store
        self.channels = channels
        self.policy = policy
        self.clock = clock
        self.now = now
        self.logger = logger
        self.poll = poll
    }

    /// Sends what is due now instead of at the next poll.
    public func wake() {
        wakes.add(1, ordering: .relaxed)
    }

    public func run() async throws {
        do {
            if takingOver {
                let interrupted = try await store.resendInterruptedSends()
                if interrupted > 0 {
                    logger.warning("\(interrupted) message(s) were being sent when the last leader stopped: sent again, marked as possible duplicates")
                }
            } else {
                let interrupted = try await store.markInterruptedSends()
                if interrupted > 0 {
                    logger.warning("\(interrupted) message(s) were being sent when the engine stopped: marked uncertain, not resent (`runbook outbox` shows them; --resend ID sends one again)")
                }
            }
        } catch {
            logger.error("cannot read the outbox: \(error)")
        }
        // A service that returns ends the engine: with no channels, wait for the shutdown.
        if channels.isEmpty {
            try? await gracefulShutdown()
            return
        }
        await cancelWhenGracefulShutdown {
            await withTaskGroup(of: Void.self) { group in
                for channel in self.channels {
                    group.addTask { await self.serve(channel) }
                }
            }
        }
    }

    private func serve(_ channel: any NotificationChannel) async {
        var lastSent: C.Instant?
        while !Task.isCancelled {
            if let lastSent {
                do { try await clock.sleep(until: lastSent.advanced(by: channel.minimumInterval), tolerance: nil) } catch { return }
            }
            let outcome = await attempt(channel)
            if case .sent = outcome { lastSent = clock.now; continue }
            let wait: Duration
            switch outcome {
            case .waiting(let until): wait = min(poll, .milliseconds(Int64(max(0, until.timeIntervalSince(now())) * 1000)))
            default: wait = poll
            }
            if case .failed = outcome { lastSent = clock.now }
            // Whichever comes first: the wait, or a message queued.
            let seen = wakes.load(ordering: .relaxed)
            let until = clock.now.advanced(by: max(wait, .milliseconds(10)))
            while clock.now < until, wakes.load(ordering: .relaxed) == seen {
                do { try await clock.sleep(for: .milliseconds(20)) } catch { return }
            }
        }
    }

    /// What one attempt on a channel did.
    public enum Attempt: Sendable, Equatable {
        /// Nothing to send on the channel.
        case idle
        /// Its next message waits for its retry time.
        case waiting(until: Date)
        case sent
        /// An attempt that did not deliver (retry, uncertain, rejected, diverted).
        case failed
    }

    /// Sends the channel's oldest pending message if it is due, and records the outcome.
    @discardableResult
    public func attempt(_ channel: any NotificationChannel) async -> Attempt {
        var entry: OutboxEntry
        do {
            switch try await store.claimOutboxHead(channel: channel.name, at: now()) {
            case .empty: return .idle
            case .notDue(let head): return .waiting(until: head.nextAttemptAt)
            case .sentElsewhere: return .waiting(until: now().addingTimeInterval(poll.seconds))
            case .claimed(let claimed): entry = claimed
            }
        } catch {
            logger.error("cannot read the outbox: \(error)")
            return .idle
        }
        let result = await channel.deliver(entry.outgoing)
        let at = now()
        let metadata: Logger.Metadata = ["channel": "\(channel.name)", "incident": "\(entry.incidentID)", "message": "\(entry.id)"]
        switch result {
        case .delivered:
            entry.state = .delivered
            entry.deliveredAt = at
            entry.lastError = nil
            logger.info("delivered message \(entry.id) to \(channel.name)", metadata: metadata)
        case .retry(let after, let reason):
            entry.lastError = reason
            if entry.attempts >= policy.fallbackAfter, let fallback = policy.fallback[channel.name] {
                return await divert(entry, to: fallback, reason: "\(entry.attempts) failed attempts on \(channel.name), the last: \(reason)", metadata: metadata)
            }
            let backoff = min(policy.retryMax, policy.retryMin * (1 << min(entry.attempts - 1, 20)))
            let wait = max(backoff, after ?? .zero)
            entry.state = .pending
            entry.nextAttemptAt = at.addingTimeInterval(wait.seconds)
            logger.warning("message \(entry.id) to \(channel.name) not delivered (attempt \(entry.attempts)): \(reason); next try in \(DurationText.format(wait))", metadata: metadata)
        case .uncertain(let reason):
            entry.state = .uncertain
            entry.lastError = reason
            logger.error("message \(entry.id) to \(channel.name) may or may not have arrived: \(reason); not resent (runbook outbox --resend \(entry.id))", metadata: metadata)
        case .rejected(let reason):
            entry.lastError = reason
            if let fallback = policy.fallback[channel.name] {
                return await divert(entry, to: fallback, reason: "\(channel.name) refused it: \(reason)", metadata: metadata)
            }
            entry.state = .rejected
            logger.error("\(channel.name) refused message \(entry.id): \(reason); no fallback channel for it under escalation.fallback", metadata: metadata)
        }
        do { try await store.updateOutbox(entry) } catch { logger.error("cannot update the outbox: \(error)") }
        return entry.state == .delivered ? .sent : .failed
    }

    private func divert(_ entry: OutboxEntry, to fallback: String, reason: String, metadata: Logger.Metadata) async -> Attempt {
        do {
            try await store.divert(entry, to: fallback, reason: reason, at: now())
            logger.error("message \(entry.id) goes to \(fallback) instead: \(reason)", metadata: metadata)
        } catch {
            logger.error("cannot divert message \(entry.id) to \(fallback): \(error)", metadata: metadata)
        }
        wake()
        return .failed
    }
}

