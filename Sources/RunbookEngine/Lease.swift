import Foundation
import Logging
import RunbookCore
import ServiceLifecycle
import Synchronization

/// Keeps this engine's place in a fleet: every `ttl / 3` it writes its heartbeat and takes or
/// renews the lease. It counts itself leader until `ttl * 4/5` after the renewal was *sent*: the
/// server set the lease's expiry at least `ttl` after that, so a leader cut off from the server
/// stops its duties (`LeaderOnly`) before another engine can take the lease. A clean stop gives
/// the lease up so a standby takes over at its next try.
public final class LeaseKeeper<C: Clock>: Service, Leadership, Sendable where C.Duration == Duration {
    private let store: any FleetStore
    private let engine: String
    private let ttl: Duration
    private let clock: C
    private let beat: @Sendable () async -> EngineBeat
    private let logger: Logger
    private let state = Mutex<(term: Int64?, until: C.Instant?)>((nil, nil))
    private let problem = Mutex<String?>(nil)
    /// The other process last found beating under this engine's name, said once until it changes.
    private let twin = Mutex<String?>(nil)

    public init(store: any FleetStore, engine: String, ttl: Duration, clock: C, logger: Logger = Logger(label: "runbook.fleet"), beat: @escaping @Sendable () async -> EngineBeat) {
        self.store = store
        self.engine = engine
        self.ttl = ttl
        self.clock = clock
        self.beat = beat
        self.logger = logger
    }

    public var isLeading: Bool {
        let now = clock.now
        return state.withLock { $0.until.map { now < $0 } ?? false }
    }

    /// The term of the lease this engine holds, while it leads.
    public var term: Int64? { isLeading ? state.withLock { $0.term } : nil }

    /// One round: the heartbeat, then the lease.
    public func round() async {
        do {
            let other = try await store.beat(await beat())
            if let other, twin.withLock({ $0 }) != other {
                logger.error("another engine also named \(engine) is running (\(other)): each overwrites the other's heartbeat and `runbook fleet` shows only one; give each engine its own engine.name")
            }
            if let other { twin.withLock { $0 = other } }
            let sent = clock.now
            let term = try await store.lead(engine: engine, ttl: ttl)
            let was = isLeading
            state.withLock { $0 = (term, term.map { _ in sent.advanced(by: ttl * 4 / 5) }) }
            if let term, !was {
                logger.notice("\(engine) leads (term \(term)): the schedule, the outbox, incident climbs and shared checks run here")
            } else if term == nil, was {
                logger.warning("\(engine) lost the lease to another engine: its duties stop here")
            }
            if term != nil {
                // Three leases of silence: a database blip of one lease is not a death.
                let interrupted = try await store.interruptRuns(ofEnginesSilentFor: ttl * 3, besides: engine)
                if !interrupted.isEmpty {
                    logger.warning("runs \(interrupted.map(String.init).joined(separator: ", ")) of engines that stopped beating marked interrupted")
                }
            }
            if problem.withLock({ $0 }) != nil {
                problem.withLock { $0 = nil }
                logger.notice("the fleet's records answer again")
            }
        } catch {
            let said = "\(error)"
            let first = problem.withLock { previous in
                defer { previous = said }
                return previous == nil
            }
            if first {
                logger.error("cannot renew the lease or the heartbeat: \(said); \(isLeading ? "leading until the lease runs out" : "standing by")")
            }
        }
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown { [self] in
            while !Task.isCancelled {
                let started = clock.now
                await round()
                do { try await clock.sleep(until: started.advanced(by: ttl / 3), tolerance: nil) } catch { break }
            }
        }
        do { try await store.leave(engine: engine) } catch { logger.warning("cannot say the engine stops on purpose (the fleet will see it silent): \(error)") }
        guard isLeading else { return }
        state.withLock { $0 = (nil, nil) }
        do {
            try await store.release(engine: engine)
            logger.notice("\(engine) gave up the lease as it stops")
        } catch {
            logger.warning("cannot give up the lease as the engine stops (a standby takes it when it expires): \(error)")
        }
    }
}

/// A duty only the leader does: `make`'s service runs while this engine leads, is cancelled
/// when it stops leading, and is made anew (reading the records afresh: the schedule's marks,
/// the outbox) each time it leads again.
public struct LeaderOnly: Service {
    let leadership: any Leadership
    let poll: Duration
    let make: @Sendable () -> any Service

    public init(_ leadership: any Leadership, poll: Duration = .milliseconds(100), make: @escaping @Sendable () -> any Service) {
        self.leadership = leadership
        self.poll = poll
        self.make = make
    }

    public func run() async throws {
        while !Task.isCancelled, !Task.isShuttingDownGracefully {
            guard leadership.isLeading else {
                try? await Task.sleep(for: poll)
                continue
            }
            let service = make()
            let ended = Atomic(false)
            let duty = Task {
                defer { ended.store(true, ordering: .relaxed) }
                try await service.run()
            }
            await withTaskCancellationHandler {
                while !ended.load(ordering: .relaxed), !Task.isCancelled {
                    if !leadership.isLeading { duty.cancel() }
                    try? await Task.sleep(for: poll)
                }
            } onCancel: {
                duty.cancel()
            }
            _ = await duty.result
        }
    }
}
