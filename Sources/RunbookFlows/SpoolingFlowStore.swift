import Foundation
import Logging
import Synchronization

/// The flows' records kept through an outage of their store: a write the store cannot take
/// because it is unreachable (a database down, cut off, locked) goes to a spool file instead, and
/// so does every write after it, in order, until the spool has been written to the store. The
/// flows never wait on a store that is down for more than the one write that found it so: fires,
/// signals and confirmations keep moving, and nothing they record is lost, even if the engine is
/// killed before the store comes back (the spool is replayed when it starts again).
///
/// While the records are spooled, the store cannot answer what only it knows, so the answers are:
/// a fire is new unless this engine queued one with its id before (the last 100,000 are kept in
/// memory); a confirmation applies and a close has its fire; an EA a fire was queued for is known
/// only for fires this engine queued. What the store says differently when the spool is written
/// (a confirmation for an unknown fire, say) is logged then.
public final class SpoolingFlowStore: FlowStore, Sendable {
    private let store: any FlowStore
    private let spool: FlowRecordSpool
    private let isOutage: @Sendable (any Error) -> Bool
    private let logger: Logger
    private let state = Mutex(State())
    private let wake = DispatchSemaphore(value: 0)
    private let retry: Duration

    private struct State {
        /// Whether writes go to the spool (it holds records not yet in the store).
        var spooling = false
        var stopped = false
        var queued: [String: String] = [:]
        var queuedOrder: [String] = []
        var queuedStart = 0
        /// Records written from the spool, and dropped because the store refused them.
        var replayed = 0
        var refused = 0
    }

    /// How many fire ids (and their EAs) are kept to answer while spooling.
    static let remembered = 100_000

    /// `isOutage`: whether an error of `store` means it cannot be reached now (the write is
    /// spooled and tried again), rather than that it refuses this record (the error is the
    /// caller's, as without a spool). `retry`: how often a spool is tried against the store.
    public init(
        _ store: any FlowStore, spoolPath: String, retry: Duration = .seconds(1), logger: Logger, isOutage: @escaping @Sendable (any Error) -> Bool
    ) throws {
        self.store = store
        self.spool = try FlowRecordSpool(path: spoolPath)
        self.isOutage = isOutage
        self.logger = logger
        self.retry = retry
        let waiting = spool.entries()
        if !waiting.isEmpty {
            state.withLock { $0.spooling = true }
            // The fires a killed engine spooled are this engine's to know: a retry of one is not
            // new, and its EA may confirm it.
            for case .fireQueued(let fire, _) in waiting.compactMap(\.self) { remember(fire) }
            logger.notice("\(waiting.count) flow records wait in \(spoolPath) from before; they are written once the records answer")
        }
        let thread = Thread { [self] in replayLoop() }
        thread.name = "flow-records-spool"
        thread.start()
    }

    /// Stops trying the spool against the store; what it holds stays in its file.
    public func close() {
        state.withLock { $0.stopped = true }
        wake.signal()
    }

    /// Records waiting in the spool, written from it, and refused by the store when written.
    public var counts: (waiting: Int, replayed: Int, refused: Int) {
        let (replayed, refused) = state.withLock { ($0.replayed, $0.refused) }
        return (spool.count, replayed, refused)
    }

    // MARK: Writes

    /// `entry` to the store, or to the spool when the store is down or the spool holds earlier
    /// records. `direct` writes it to the store; its answer is returned, or `spooled` when the
    /// entry went to the spool.
    private func write<T>(_ entry: FlowRecordSpool.Entry, spooled: T, _ direct: () throws -> T) throws -> T {
        // Checked and appended under the lock the replay empties the spool under: no record is
        // appended to a spool just found empty, nor written past one still waiting.
        if try state.withLock({ state in
            guard state.spooling else { return false }
            try spool.append(entry)
            return true
        }) {
            return spooled
        }
        do {
            return try direct()
        } catch where isOutage(error) {
            let first = try state.withLock { state in
                try spool.append(entry)
                defer { state.spooling = true }
                return !state.spooling
            }
            if first {
                logger.warning("the records cannot be reached (\(error)); the flows' records go to \(spool.path) until they answer, and are written then")
            }
            wake.signal()
            return spooled
        }
    }

    public func recordHeartbeats(target: String, account: String?, at date: Date, count: Int) throws {
        try write(.heartbeats(target: target, account: account, at: date, count: count), spooled: ()) {
            try store.recordHeartbeats(target: target, account: account, at: date, count: count)
        }
    }

    public func recordSignal(_ signal: FlowMessage.Signal, at date: Date) throws {
        try write(.signal(signal, at: date), spooled: ()) { try store.recordSignal(signal, at: date) }
    }

    public func recordFireQueued(_ fire: FlowMessage.Fire, at date: Date) throws -> Bool {
        // A fire this engine queued before is never new, whether the store answers or not.
        if state.withLock({ $0.spooling && $0.queued[fire.id] != nil }) { return false }
        let isNew = try write(.fireQueued(fire, at: date), spooled: true) { try store.recordFireQueued(fire, at: date) }
        if isNew { remember(fire) }
        return isNew
    }

    private func remember(_ fire: FlowMessage.Fire) {
        state.withLock { state in
            guard state.queued.updateValue(fire.target, forKey: fire.id) == nil else { return }
            state.queuedOrder.append(fire.id)
            if state.queuedOrder.count - state.queuedStart > Self.remembered {
                state.queued[state.queuedOrder[state.queuedStart]] = nil
                state.queuedStart += 1
                if state.queuedStart > Self.remembered {
                    state.queuedOrder.removeFirst(state.queuedStart)
                    state.queuedStart = 0
                }
            }
        }
    }

    public func recordFireSent(id: String, at date: Date) throws {
        try write(.fireSent(id: id, at: date), spooled: ()) { try store.recordFireSent(id: id, at: date) }
    }

    public func recordFireFailed(id: String, reason: String, at date: Date) throws {
        try write(.fireFailed(id: id, reason: reason, at: date), spooled: ()) { try store.recordFireFailed(id: id, reason: reason, at: date) }
    }

    public func recordConfirmation(_ confirmation: FlowMessage.Confirmation, at date: Date) throws -> ConfirmationOutcome {
        try write(.confirmation(confirmation, at: date), spooled: .applied) { try store.recordConfirmation(confirmation, at: date) }
    }

    public func recordClose(_ close: FlowMessage.Close, at date: Date) throws -> Bool {
        try write(.close(close, at: date), spooled: true) { try store.recordClose(close, at: date) }
    }

    public func recordProbe(id: String, at date: Date) throws {
        try write(.probe(id: id, at: date), spooled: ()) { try store.recordProbe(id: id, at: date) }
    }

    public func recordPositions(_ report: FlowMessage.Positions, at date: Date) throws {
        try write(.positions(report, at: date), spooled: ()) { try store.recordPositions(report, at: date) }
    }

    public func fireTarget(id: String) throws -> String? {
        let (spooling, known) = state.withLock { ($0.spooling, $0.queued[id]) }
        if let known { return known }
        if !spooling {
            do {
                return try store.fireTarget(id: id)
            } catch where isOutage(error) {
                // The write that follows (the confirmation) goes to the spool without waiting.
                state.withLock { $0.spooling = true }
                wake.signal()
                throw FlowRecordsUnavailable("the records cannot be reached (\(error)): which EA fire \(id) belongs to cannot be checked until they answer")
            }
        }
        // Not a guess: with CURVE, the answer decides which EA's key may confirm the fire.
        throw FlowRecordsUnavailable(
            "the records cannot be reached, and fire \(id) was not queued by this engine since it started: which EA it belongs to cannot be checked until they answer"
        )
    }

    // MARK: Replay

    private func replayLoop() {
        while true {
            _ = wake.wait(timeout: .now() + .milliseconds(Int(retry / .milliseconds(1))))
            let (spooling, stopped) = state.withLock { ($0.spooling, $0.stopped) }
            if stopped { return }
            if spooling { replay() }
        }
    }

    /// Writes the spool to the store, oldest first, until it is empty or the store fails again.
    func replay() {
        var total = (written: 0, refused: 0)
        while true {
            let chunk = spool.entries(limit: Self.chunk)
            var written = 0
            var refused: [Int] = []
            var outage = false
            for (index, entry) in chunk.enumerated() {
                do {
                    guard let entry else { throw FlowRecordsUnavailable("a line of \(spool.path) cannot be read") }
                    try apply(entry)
                } catch where isOutage(error) {
                    outage = true
                    break
                } catch {
                    refused.append(index)
                    logger.error("a spooled flow record was refused by the records; it is kept in \(spool.refusedPath): \(error)")
                }
                written += 1
            }
            guard written > 0 || chunk.isEmpty else { return }
            let left: Int
            do {
                left = try state.withLock { state in
                    try spool.keepRefused(refused)
                    let left = try spool.dropFirst(written)
                    state.replayed += written - refused.count
                    state.refused += refused.count
                    if left == 0 { state.spooling = false }
                    return left
                }
            } catch {
                logger.error("\(error)")
                return
            }
            total.written += written - refused.count
            total.refused += refused.count
            if left == 0 {
                if total.written + total.refused > 0 {
                    let refusedText = total.refused > 0 ? ", \(total.refused) refused (kept in \(spool.refusedPath))" : ""
                    logger.notice("the records answer again: \(total.written) flow records written from the spool\(refusedText)")
                }
                return
            }
            if outage { return }
        }
    }

    /// How many spooled records are read and written at a time: what is written is dropped from
    /// the spool before the next, so an engine stopped meanwhile does not write them again.
    static let chunk = 500

    private func apply(_ entry: FlowRecordSpool.Entry) throws {
        switch entry {
        case .heartbeats(let target, let account, let date, let count):
            try store.recordHeartbeats(target: target, account: account, at: date, count: count)
        case .signal(let signal, let date):
            try store.recordSignal(signal, at: date)
        case .fireQueued(let fire, let date):
            _ = try store.recordFireQueued(fire, at: date)
        case .fireSent(let id, let date):
            try store.recordFireSent(id: id, at: date)
        case .fireFailed(let id, let reason, let date):
            try store.recordFireFailed(id: id, reason: reason, at: date)
        case .confirmation(let confirmation, let date):
            let outcome = try store.recordConfirmation(confirmation, at: date)
            if outcome != .applied {
                logger.warning("a spooled confirmation for fire \(confirmation.fireID) changed nothing: \(outcome == .unknownFire ? "no fire has its id" : "the fire was already FILLED or FAILED")")
            }
        case .close(let close, let date):
            if try !store.recordClose(close, at: date) {
                logger.warning("a spooled close for fire \(close.fireID) was not recorded: no fire has its id")
            }
        case .probe(let id, let date):
            try store.recordProbe(id: id, at: date)
        case .positions(let report, let date):
            try store.recordPositions(report, at: date)
        }
    }
}

/// A record that needs the store while it cannot be reached.
public struct FlowRecordsUnavailable: Error, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// The spool of flow records: one JSON object a line, each fsynced before `append` returns, so a
/// spooled record survives the engine killed. A line cut short by a crash is cut off when the
/// spool is opened.
final class FlowRecordSpool: Sendable {
    let path: String
    private let lock = Mutex(())

    enum Entry: Codable, Equatable {
        case heartbeats(target: String, account: String?, at: Date, count: Int)
        case signal(FlowMessage.Signal, at: Date)
        case fireQueued(FlowMessage.Fire, at: Date)
        case fireSent(id: String, at: Date)
        case fireFailed(id: String, reason: String, at: Date)
        case confirmation(FlowMessage.Confirmation, at: Date)
        case close(FlowMessage.Close, at: Date)
        case probe(id: String, at: Date)
        case positions(FlowMessage.Positions, at: Date)
    }

    init(path: String) throws {
        self.path = path
        let folder = (path as NSString).deletingLastPathComponent
        if !folder.isEmpty { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }
        // A last line without its newline was cut short.
        if let data = FileManager.default.contents(atPath: path), let last = data.last, last != UInt8(ascii: "\n") {
            let keep = data.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0
            guard truncate(path, off_t(keep)) == 0 else { throw Self.failure("cut the half-written end of", path) }
        }
    }

    private static func failure(_ what: String, _ path: String) -> FlowRecordsUnavailable {
        FlowRecordsUnavailable("cannot \(what) the flow records' spool \(path): \(String(cString: strerror(errno)))")
    }

    private static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .millisecondsSince1970
        encoder.outputFormatting = .sortedKeys
        return encoder
    }

    private static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .millisecondsSince1970
        return decoder
    }

    func append(_ entry: Entry) throws {
        let line = try Self.encoder().encode(entry) + Data("\n".utf8)
        try lock.withLock { _ in try Self.append(line, to: path) }
    }

    private func lines() -> [Data] {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        return data.split(separator: UInt8(ascii: "\n")).map { Data($0) }
    }

    /// The records in the spool, oldest first (the first `limit`); nil for a line that cannot be read.
    func entries(limit: Int = .max) -> [Entry?] {
        let lines: [Data] = lock.withLock { _ in Array(self.lines().prefix(limit)) }
        let decoder = Self.decoder()
        return lines.map { try? decoder.decode(Entry.self, from: $0) }
    }

    /// Where records the store refused are kept, for a person to look at.
    var refusedPath: String { path + ".refused" }

    /// Copies the lines at `indexes` (among the first) to `refusedPath`.
    func keepRefused(_ indexes: [Int]) throws {
        guard !indexes.isEmpty else { return }
        try lock.withLock { _ in
            let lines = self.lines()
            let text = indexes.filter { $0 < lines.count }.reduce(into: Data()) { $0 += lines[$1] + Data("\n".utf8) }
            try Self.append(text, to: refusedPath)
        }
    }

    /// `data` appended and on disk; a write cut short is cut off again, so that the next line
    /// does not run into half of this one.
    private static func append(_ data: Data, to path: String) throws {
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw failure("open", path) }
        defer { Foundation.close(fd) }
        let size = lseek(fd, 0, SEEK_END)
        let written = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == data.count, fsync(fd) == 0 else {
            let error = failure("write", path)
            if size >= 0 { _ = ftruncate(fd, size) }
            throw error
        }
    }

    var count: Int { lock.withLock { _ in self.lines().count } }

    /// Removes the `count` oldest records (written to the store); returns how many are left.
    func dropFirst(_ count: Int) throws -> Int {
        try lock.withLock { _ in
            let rest = lines().dropFirst(count)
            if rest.isEmpty {
                guard truncate(path, 0) == 0 || errno == ENOENT else { throw Self.failure("empty", path) }
                return 0
            }
            let temporary = path + ".rest"
            let text = rest.reduce(into: Data()) { $0 += $1 + Data("\n".utf8) }
            guard FileManager.default.createFile(atPath: temporary, contents: text, attributes: [.posixPermissions: 0o600]) else {
                throw Self.failure("write", temporary)
            }
            let fd = open(temporary, O_RDONLY | O_CLOEXEC)
            if fd >= 0 {
                fsync(fd)
                Foundation.close(fd)
            }
            guard rename(temporary, path) == 0 else { throw Self.failure("replace", path) }
            return rest.count
        }
    }
}
