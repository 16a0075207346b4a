import Foundation
import Logging
import Synchronization

/// Takes ticks from the telemetry bridge's hot path and stores them in batches, off that path.
/// No tick is lost: each frame is journaled before it is relayed (`TickJournal`), a failed batch
/// is retried with backoff, then spooled to disk; spooled batches are replayed in order when the
/// store is back, and never applied twice. What a killed process had journaled and not yet
/// stored or spooled is spooled by the next start.
public final class TickIngest: Sendable {
    public struct Counters: Sendable, Equatable {
        public var received = 0
        public var stored = 0
        public var spooled = 0
        public var replayed = 0
        /// Frames that did not read as ticks.
        public var invalid = 0
        /// Ticks lost; stays 0 unless the spool itself cannot be written.
        public var dropped = 0
        /// Ticks an earlier process had journaled and not stored, spooled at start.
        public var recovered = 0
    }

    public struct Settings: Sendable {
        /// Store at least this often.
        public var interval: Duration = .milliseconds(50)
        /// Waits between attempts before a batch goes to the spool (seed: 1 s, 2 s, 4 s).
        public var retryDelays: [Duration] = [.seconds(1), .seconds(2), .seconds(4)]
        /// How often to try the store again while batches wait in the spool.
        public var replayEvery: Duration = .seconds(5)
        /// Past this many ticks waiting, the ingest asks its feeder to pause (`isFull`).
        public var maxBacklog = 500_000
        /// Below this many ticks waiting, storing runs only on cores with nothing else to do, so
        /// relaying comes first; past it, storing runs at normal priority, so that a machine kept
        /// busy for long still stores before the backlog reaches `maxBacklog`.
        public var idleBacklog = 250_000
        /// How long a batch given to the idle-priority thread may wait to be started before the
        /// normal-priority one takes it (real time, whatever the clock).
        public var idlePatience: Duration = .milliseconds(200)
        /// How often the journal is written to the disk: what a machine crash can take at most.
        public var syncInterval: Duration = .milliseconds(200)

        public init() {}
    }

    private let store: any TickStore
    private let spool: TickSpool
    private let ids: BatchIDs
    private let journal: TickJournal?
    private let settings: Settings
    private let clock: any Clock<Duration>
    private let logger: Logger
    private let parse: @Sendable (UnsafeRawBufferPointer) -> Tick?
    /// Frames waiting, each as a 4-byte length then its bytes, in one growing buffer, and how
    /// many were ever accepted: the hot path takes this one lock per frame.
    private let pending = Mutex<(bytes: [UInt8], frames: Int, accepted: Int)>(([], 0, 0))
    private let state = Mutex(Counters())
    /// An emptied buffer with its capacity kept, swapped in for the next batch so the hot path
    /// does not grow a fresh one every time.
    private let spare = Mutex<[UInt8]>([])
    /// The frames of the batch being read, handed from the run loop to the worker (one at a time).
    private let handoff = Mutex<[UInt8]>([])

    public init(
        store: any TickStore, spool: TickSpool, journal: TickJournal? = nil, settings: Settings = Settings(),
        clock: any Clock<Duration> = ContinuousClock(), logger: Logger, parse: @escaping @Sendable (UnsafeRawBufferPointer) -> Tick?
    ) {
        self.store = store
        self.spool = spool
        ids = BatchIDs(path: spool.path + ".ids")
        self.journal = journal
        self.settings = settings
        self.clock = clock
        self.logger = logger
        self.parse = parse
    }

    public var counters: Counters {
        var counters = state.withLock { $0 }
        counters.received = pending.withLock { $0.accepted }
        return counters
    }

    /// Ticks accepted and not yet taken into a batch.
    public var backlog: Int { pending.withLock { $0.frames } }

    /// True while the backlog is past its bound: the feeder should stop reading for a moment, so
    /// ticks wait upstream (in the EA's queue) instead of in this process's memory.
    public var isFull: Bool { backlog >= settings.maxBacklog }

    /// The hot path: journals and copies the frame and returns.
    public func accept(_ frame: UnsafeRawBufferPointer) {
        pending.withLock { pending in
            journal?.append(frame)
            withUnsafeBytes(of: UInt32(frame.count).littleEndian) { pending.bytes += $0 }
            pending.bytes += frame
            pending.frames += 1
            pending.accepted += 1
        }
    }

    /// Stores batches until cancelled, then stores (or spools) what is left.
    public func run() async {
        await recoverJournal()
        let syncing = journal.map { JournalSync(journal: $0, every: settings.syncInterval) }
        defer { syncing?.stop() }
        // Above every id the store, the spool or an earlier run may hold: the store may be down.
        var nextID = max(spool.batches().last?.id ?? 0, ids.highestReserved) + 1
        do {
            nextID = max(nextID, try await store.lastAppliedBatch() + 1)
        } catch {
            logger.warning("the tick store cannot be read at start (\(error)); ticks go to the spool until it can")
        }
        // Reading frames into ticks and storing them happen on threads of their own: one that
        // runs only when the cores are otherwise idle, one at normal priority for a long backlog
        // or for work the idle one has not started in time.
        let quiet = BackgroundThread(name: "tick-store", priority: .idle)
        let urgent = BackgroundThread(name: "tick-store-urgent", priority: .normal)
        defer {
            quiet.stop()
            urgent.stop()
        }
        let work = Worker(quiet: quiet, urgent: urgent, patience: settings.idlePatience)
        var lastReplay = clock.stopwatch()
        await replay(on: work.urgentOnly)
        while !Task.isCancelled {
            try? await clock.sleep(for: settings.interval)
            if !spool.isEmpty, lastReplay() >= settings.replayEvery {
                await replay(on: work.urgentOnly)
                lastReplay = clock.stopwatch()
            }
            let worker = backlog > settings.idleBacklog ? work.urgentOnly : work
            if let batch = await takeBatch(id: &nextID, on: worker) { await deliver(batch, on: worker) }
        }
        if let batch = await takeBatch(id: &nextID, on: work.urgentOnly) { await deliver(batch, on: work.urgentOnly, retry: false) }
    }

    /// Spools what an earlier process journaled and did not store or spool, in order, then lets
    /// its segments go. Batches the store has applied or the spool holds are skipped; replay
    /// never applies a batch twice either way.
    private func recoverJournal() async {
        guard let journal, !journal.leftover.files.isEmpty else { return }
        let leftover = journal.leftover
        let spooled = spool.batches().map(\.id)
        let applied = try? await store.lastAppliedBatch()
        var fresh = max(applied ?? 0, spooled.max() ?? 0, leftover.highestID, ids.highestReserved) + 1
        var recovered = 0
        do {
            for (id, frames) in leftover.batches {
                if let id, id <= applied ?? .min || spooled.contains(id) { continue }
                let ticks = frames.compactMap { frame in frame.withUnsafeBytes { parse($0) } }
                guard !ticks.isEmpty else { continue }
                let batch = TickBatch(id: id ?? fresh, ticks: ticks)
                try ids.reserve(through: batch.id)
                if id == nil { fresh += 1 }
                try spool.append(batch)
                recovered += ticks.count
            }
        } catch {
            // The segments stay for the next start; nothing is removed that is not safe elsewhere.
            logger.critical("cannot spool the ticks journaled by an earlier run (\(error)); its journal is kept in \(journal.directory)")
            return
        }
        TickJournal.remove(leftover.files)
        if recovered > 0 {
            state.withLock { $0.recovered += recovered }
            logger.warning("recovered \(recovered) ticks that an earlier run had relayed and not stored; they are in the spool")
        }
    }

    /// Where batch work runs: on `quiet` with `urgent` taking what `quiet` has not started in time,
    /// or on `urgent` alone.
    private struct Worker: Sendable {
        let quiet: BackgroundThread?
        let urgent: BackgroundThread
        let patience: Duration

        var urgentOnly: Worker { Worker(quiet: nil, urgent: urgent, patience: patience) }

        func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
            guard let quiet else { return try await urgent.run(work) }
            return try await quiet.run(work, fallback: urgent, patience: patience)
        }
    }

    /// Takes the frames waiting (here, at the caller's priority: the hot path shares this lock),
    /// and reads them into a batch on the worker.
    /// Frames taken are marked in the journal as batch `id`, which is then used up.
    private func takeBatch(id: inout Int64, on worker: Worker) async -> TickBatch? {
        var bytes = spare.withLock { spare in
            defer { spare = [] }
            return spare
        }
        let batchID = id
        do {
            try ids.reserve(through: batchID)
        } catch {
            logger.error("\(error): batch ids may repeat after a restart while the store is down")
        }
        let frames = pending.withLock { pending -> Int in
            swap(&pending.bytes, &bytes)
            if pending.frames > 0 { journal?.mark(batch: batchID) }
            defer { pending.frames = 0 }
            return pending.frames
        }
        guard frames > 0 else {
            spare.withLock { $0 = bytes }
            return nil
        }
        id += 1
        handoff.withLock { swap(&$0, &bytes) }
        return try? await worker.run { self.read(frames: frames, id: batchID) }
    }

    private func read(frames: Int, id: Int64) -> TickBatch? {
        var bytes = handoff.withLock { handoff in
            defer { handoff = [] }
            return handoff
        }
        var ticks: [Tick] = []
        ticks.reserveCapacity(frames)
        var invalid = 0
        bytes.withUnsafeBytes { buffer in
            var position = 0
            while position + 4 <= buffer.count {
                let length = Int(UInt32(littleEndian: buffer.loadUnaligned(fromByteOffset: position, as: UInt32.self)))
                let frame = UnsafeRawBufferPointer(rebasing: buffer[(position + 4)..<(position + 4 + length)])
                if let tick = parse(frame) { ticks.append(tick) } else { invalid += 1 }
                position += 4 + length
            }
        }
        if invalid > 0 { state.withLock { $0.invalid += invalid } }
        // The buffer is kept for the next batch unless a burst made it large.
        if bytes.capacity <= 8 << 20 {
            bytes.removeAll(keepingCapacity: true)
            spare.withLock { swap(&$0, &bytes) }
        }
        return ticks.isEmpty ? nil : TickBatch(id: id, ticks: ticks)
    }

    /// Stores the batch, retrying; spools it when the store stays down, or when batches already
    /// wait in the spool (order is kept).
    private func deliver(_ batch: TickBatch, on worker: Worker, retry: Bool = true) async {
        if spool.isEmpty {
            let delays = retry ? settings.retryDelays : []
            for attempt in 0...delays.count {
                do {
                    let applied = try await worker.run { [store] in try store.store(batch) }
                    // On a retry, an earlier attempt given up on may have landed after all.
                    guard applied || attempt > 0 else {
                        // A fresh batch the store says it already has: another writer's ids, or
                        // a store replaced under the engine. Its ticks are not in the store.
                        state.withLock { $0.dropped += batch.ticks.count }
                        logger.critical("the tick store says batch \(batch.id) is already applied, so its \(batch.ticks.count) ticks were not stored: is another engine writing to the same tick store?")
                        journal?.durable(through: batch.id)
                        return
                    }
                    state.withLock { $0.stored += batch.ticks.count }
                    journal?.durable(through: batch.id)
                    return
                } catch {
                    guard attempt < delays.count else {
                        logger.error("tick store failed \(delays.count + 1) times (\(error)); spooling \(batch.ticks.count) ticks")
                        break
                    }
                    logger.warning("tick store failed (\(error)); retrying in \(delays[attempt])")
                    try? await clock.sleep(for: delays[attempt])
                }
            }
        }
        do {
            try spool.append(batch)
            state.withLock { $0.spooled += batch.ticks.count }
            journal?.durable(through: batch.id)
        } catch {
            state.withLock { $0.dropped += batch.ticks.count }
            logger.critical("\(batch.ticks.count) ticks lost: \(error)")
        }
    }

    /// Applies the spooled batches in order; empties the spool when all are stored.
    private func replay(on worker: Worker) async {
        let batches = spool.batches()
        guard !batches.isEmpty else { return }
        var replayed = 0
        for batch in batches {
            do {
                if try await worker.run({ [store] in try store.store(batch) }) { replayed += batch.ticks.count }
            } catch {
                state.withLock { $0.replayed += replayed }
                logger.warning("tick store still down (\(error)); \(batches.count) batch(es) stay in the spool")
                return
            }
        }
        do {
            try spool.clear()
        } catch {
            logger.error("\(error)")
        }
        state.withLock {
            $0.replayed += replayed
            $0.stored += replayed
        }
        logger.info("replayed \(replayed) spooled ticks in \(batches.count) batch(es)")
    }
}

extension Clock where Duration == Swift.Duration {
    /// A function that tells the time passed on this clock since the call.
    func stopwatch() -> @Sendable () -> Swift.Duration {
        let start = now
        return { start.duration(to: self.now) }
    }
}

/// Writes the journal to the disk every interval, on a thread of its own: a store outage that
/// holds the ingest in its retries must not hold the journal's sync too.
private final class JournalSync: @unchecked Sendable {
    private let thread: Thread

    init(journal: TickJournal, every interval: Duration) {
        let microseconds = UInt32(clamping: interval.components.seconds * 1_000_000 + interval.components.attoseconds / 1_000_000_000_000)
        thread = Thread {
            while !Thread.current.isCancelled {
                usleep(max(1000, microseconds))
                journal.sync()
            }
        }
        thread.name = "tick-journal-sync"
        thread.start()
    }

    func stop() {
        thread.cancel()
    }
}
