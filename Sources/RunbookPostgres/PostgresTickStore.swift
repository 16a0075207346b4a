import Foundation
import Logging
import NIOCore
import PostgresNIO
import RunbookStore
import Synchronization

/// Ticks in PostgreSQL, as `SQLiteTickStore` keeps them in SQLite: `current` (the latest tick per
/// symbol), `history` (every tick, partitioned by UTC day, partitions made ahead of time), `bars`
/// (the nine timeframes, upserted per batch), `blocks` (packed history), and `ingest` (the last
/// batch applied, written in the batch's own transaction, so a replay never stores a tick twice).
/// History arrives through COPY.
public final class PostgresTickStore: TickStore, Sendable {
    public let database: PostgresDatabase
    public let alignment: BarAlignment
    /// Whose batches these are: each engine writing to the database numbers its own batches, and
    /// `tick_ingest` keeps the last applied per writer, so engines never skip each other's.
    public let writer: String
    private let symbolIDs = Mutex<[String: Int32]>([:])
    /// The UTC days whose partition is known to exist.
    private let partitions = Mutex<Set<Int64>>([])
    /// Days ahead of today whose partition is made before any tick needs it.
    static let daysAhead: Int64 = 2
    static let day: Int64 = 86_400_000

    private init(database: PostgresDatabase, alignment: BarAlignment, writer: String) {
        self.database = database
        self.alignment = alignment
        self.writer = writer
    }

    /// Connects, makes or migrates the schema, and makes today's partition and the next ones.
    public static func open(
        url: PostgresURL, alignment: BarAlignment = BarAlignment(), writer: String = "default", patience: Duration = .seconds(10), logger: Logger = Logger(label: "runbook.postgres")
    ) async throws -> PostgresTickStore {
        let store = unprepared(url: url, alignment: alignment, writer: writer, patience: patience, logger: logger)
        do {
            try await store.prepare()
        } catch {
            store.close()
            throw error
        }
        return store
    }

    /// A store that connects, migrates and makes its partitions on its first call, and again on
    /// the next call while that fails: for an engine that starts while the server is down (its
    /// ticks go to the spool until the server answers).
    public static func unprepared(
        url: PostgresURL, alignment: BarAlignment = BarAlignment(), writer: String = "default", patience: Duration = .seconds(10), logger: Logger = Logger(label: "runbook.postgres")
    ) -> PostgresTickStore {
        PostgresTickStore(database: PostgresDatabase(url: url, patience: patience, logger: logger), alignment: alignment, writer: writer)
    }

    private let prepared = Mutex(false)

    /// Makes or migrates the schema and the partitions ahead, once.
    public func prepare() async throws {
        guard !prepared.withLock({ $0 }) else { return }
        do {
            try await database.probe()
            try await database.migrate(scope: "ticks", Self.migrations)
            try await makePartitionsAhead()
        } catch {
            throw PostgresStoreError("cannot open the tick store: \(error)", sqlState: (error as? PostgresStoreError)?.sqlState)
        }
        prepared.withLock { $0 = true }
    }

    /// Stops the store's connections.
    public func close() { database.close() }

    static let migrations: [(name: String, sql: String)] = [
        ("v1: history, current, bars, blocks", """
            CREATE TABLE tick_symbols (id serial PRIMARY KEY, name text NOT NULL UNIQUE);
            CREATE TABLE tick_history (
                symbol_id integer NOT NULL, time_msc bigint NOT NULL, seq bigint NOT NULL,
                bid double precision NOT NULL, ask double precision NOT NULL, volume double precision NOT NULL
            ) PARTITION BY RANGE (time_msc);
            CREATE TABLE tick_current (
                symbol text PRIMARY KEY, time_msc bigint NOT NULL,
                bid double precision NOT NULL, ask double precision NOT NULL, volume double precision NOT NULL
            );
            CREATE TABLE tick_bars (
                symbol_id integer NOT NULL, timeframe text NOT NULL, open_time bigint NOT NULL,
                open double precision NOT NULL, high double precision NOT NULL, low double precision NOT NULL,
                close double precision NOT NULL, ticks bigint NOT NULL, spread double precision NOT NULL,
                first_msc bigint NOT NULL, last_msc bigint NOT NULL,
                PRIMARY KEY (symbol_id, timeframe, open_time)
            );
            CREATE TABLE tick_blocks (
                symbol_id integer NOT NULL, start_msc bigint NOT NULL, end_msc bigint NOT NULL,
                count integer NOT NULL, data bytea NOT NULL
            );
            ALTER TABLE tick_blocks ALTER COLUMN data SET STORAGE EXTERNAL;
            CREATE INDEX tick_blocks_by_symbol_time ON tick_blocks (symbol_id, start_msc);
            CREATE TABLE tick_ingest (writer text PRIMARY KEY, last_batch bigint NOT NULL)
            """),
        // How far `runbook store migrate` has copied each part of each symbol, written in the
        // transaction of what it copied.
        ("v2: migration marks", """
            CREATE TABLE tick_migration (
                symbol text NOT NULL, part text NOT NULL, position_msc bigint NOT NULL, position_order bigint NOT NULL,
                copied bigint NOT NULL, updated_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (symbol, part)
            )
            """),
    ]

    // MARK: Partitions

    /// The partition of UTC day `day` (days since 1970-01-01): `tick_history_YYYYMMDD`.
    public static func partitionName(day: Int64) -> String {
        let date = Date(timeIntervalSince1970: TimeInterval(day) * 86_400)
        let parts = Calendar.utc.dateComponents([.year, .month, .day], from: date)
        return String(format: "tick_history_%04d%02d%02d", parts.year!, parts.month!, parts.day!)
    }

    /// The day a partition holds, from its name; nil for a table not named by `partitionName`.
    static func partitionDay(_ name: String) -> Int64? {
        guard name.hasPrefix("tick_history_"), case let digits = name.dropFirst("tick_history_".count), digits.count == 8,
              let year = Int(digits.prefix(4)), let month = Int(digits.dropFirst(4).prefix(2)), let dayOfMonth = Int(digits.suffix(2)),
              let date = Calendar.utc.date(from: DateComponents(year: year, month: month, day: dayOfMonth)) else { return nil }
        return Int64((date.timeIntervalSince1970 / 86_400).rounded(.down))
    }

    static func day(of timeMsc: Int64) -> Int64 { timeMsc >= 0 ? timeMsc / day : (timeMsc - day + 1) / day }

    /// Makes the partitions of `days` that are not known to exist.
    func ensurePartitions(_ days: Set<Int64>) async throws {
        let missing = partitions.withLock { days.subtracting($0) }
        guard !missing.isEmpty else { return }
        try await database.withConnection { connection in
            for day in missing.sorted() {
                let sql = "CREATE TABLE IF NOT EXISTS \(Self.partitionName(day: day)) PARTITION OF tick_history FOR VALUES FROM (\(day * Self.day)) TO (\((day + 1) * Self.day))"
                do {
                    try await connection.sql(PostgresQuery(unsafeSQL: sql))
                } catch where PostgresDatabase.sqlState(error) == "42P07" || PostgresDatabase.sqlState(error) == "23505" {
                    // Another engine made it at the same moment.
                }
            }
        }
        partitions.withLock { $0.formUnion(missing) }
    }

    /// Today's partition and the next `daysAhead`: a tick at midnight never waits for one. Each
    /// batch and each `problems()` (the `tick_store` check) calls it; a partition missing all the
    /// same is made by the batch that needs it.
    public func makePartitionsAhead(now: Date = Date()) async throws {
        let today = Self.day(of: Int64(now.timeIntervalSince1970 * 1000))
        try await ensurePartitions(Set(today...(today + Self.daysAhead)))
    }

    /// The days whose partition has its index by symbol and time.
    private let indexed = Mutex<Set<Int64>>([])
    /// The day `indexClosedDays` last ran for.
    private let indexedThrough = Mutex<Int64>(.min)

    /// The index by symbol and time of each day that is over, made where missing. A day's
    /// partition takes its ticks without one (an index maintained tick by tick costs more than
    /// half the ingest's speed); the day after, it is made once (`CONCURRENTLY`: late ticks for
    /// that day still go in meanwhile), and reads of a symbol's history use it from then on.
    /// Reads of today scan today's partition. The first batch of each day and each `problems()`
    /// call it.
    public func indexClosedDays(now: Date = Date()) async throws {
        try await maintenance.run { try await self.indexDaysBefore(now) }
    }

    /// Index builds, compression and retention, one at a time: a build (`CONCURRENTLY`) waits
    /// for every transaction older than itself while holding its partition, and compression's
    /// transaction waits for that partition to detach it, a deadlock the server ends by failing one.
    private let maintenance = OneAtATime()

    private func indexDaysBefore(_ now: Date) async throws {
        let today = Self.day(of: Int64(now.timeIntervalSince1970 * 1000))
        let closed = try await existingPartitions().filter { $0.day < today }
        let missing = indexed.withLock { done in closed.filter { !done.contains($0.day) } }
        guard !missing.isEmpty else { return }
        try await database.withConnection(patience: .some(nil)) { connection in
            for partition in missing {
                let index = "\(partition.name)_by_symbol_time"
                var valid: Bool?
                for try await flag in try await connection.sql("SELECT i.indisvalid FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid WHERE c.relname = \(index)").decode(Bool.self) {
                    valid = flag
                }
                // One left invalid by a build that was interrupted is made again.
                if valid == false { try await connection.sql(PostgresQuery(unsafeSQL: "DROP INDEX CONCURRENTLY IF EXISTS \(index)")) }
                if valid != true {
                    try await connection.sql(PostgresQuery(unsafeSQL: "CREATE INDEX CONCURRENTLY IF NOT EXISTS \(index) ON \(partition.name) (symbol_id, time_msc)"))
                }
                self.indexed.withLock { _ = $0.insert(partition.day) }
            }
        }
    }

    /// Starts `indexClosedDays` in the background once a day, from the ingest's batches.
    private func indexClosedDaysOnceADay() {
        let today = Self.day(of: Int64(Date().timeIntervalSince1970 * 1000))
        let due = indexedThrough.withLock { through in
            guard through < today else { return false }
            through = today
            return true
        }
        guard due else { return }
        Task.detached { [self] in
            do {
                try await indexClosedDays()
            } catch {
                indexedThrough.withLock { $0 = .min }
                database.logger.warning("cannot index the tick history of past days yet (\(error)); trying again with the next batch")
            }
        }
    }

    /// The partitions of history and the day each holds, oldest first.
    func existingPartitions() async throws -> [(name: String, day: Int64)] {
        try await database.withConnection { connection in
            var found: [(name: String, day: Int64)] = []
            let rows = try await connection.sql("""
                SELECT c.relname::text FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                WHERE i.inhparent = 'tick_history'::regclass
                """)
            for try await name in rows.decode(String.self) {
                if let day = Self.partitionDay(name) { found.append((name, day)) }
            }
            return found.sorted { $0.day < $1.day }
        }
    }

    // MARK: Writing

    @discardableResult
    public func store(_ batch: TickBatch) throws -> Bool {
        try blocking { try await self.apply(batch) }
    }

    /// `store(_:)` for async callers.
    @discardableResult
    public func apply(_ batch: TickBatch) async throws -> Bool {
        try await prepare()
        guard !batch.ticks.isEmpty else { return try await applyEmpty(batch) }
        do {
            return try await write(batch)
        } catch let error as PostgresStoreError where error.sqlState == "42P01" {
            // The schema is gone (a database recreated or restored under the engine): make it again.
            prepared.withLock { $0 = false }
            partitions.withLock { $0.removeAll() }
            symbolIDs.withLock { $0.removeAll() }
            throw error
        } catch let error as PostgresStoreError where error.sqlState == "23514" {
            // A partition was dropped under the store (no partition for a row): make it again and
            // store the batch once more; the ingest's own retries cover every other failure.
            partitions.withLock { $0.removeAll() }
            return try await write(batch)
        } catch {
            partitions.withLock { $0.removeAll() }
            throw error
        }
    }

    private func applyEmpty(_ batch: TickBatch) async throws -> Bool {
        try await database.withTransaction { connection in
            let last = try await self.lockLastBatch(connection)
            guard batch.id > last else { return false }
            try await connection.sql("UPDATE tick_ingest SET last_batch = \(batch.id) WHERE writer = \(self.writer)")
            return true
        }
    }

    /// The last batch this writer applied, its row locked until the transaction ends.
    private func lockLastBatch(_ connection: PostgresConnection) async throws -> Int64 {
        // The no-op update locks the row (made if new) as FOR UPDATE would, in one statement.
        var last: Int64 = 0
        let rows = try await connection.sql("""
            INSERT INTO tick_ingest (writer, last_batch) VALUES (\(writer), 0)
            ON CONFLICT (writer) DO UPDATE SET last_batch = tick_ingest.last_batch RETURNING last_batch
            """)
        for try await value in rows.decode(Int64.self) { last = value }
        return last
    }

    private func write(_ batch: TickBatch) async throws -> Bool {
        let ids = try await symbolIDs(Set(batch.ticks.map(\.symbol)))
        try await ensurePartitions(Set(batch.ticks.map { Self.day(of: $0.timeMsc) }))
        try await makePartitionsAhead()
        indexClosedDaysOnceADay()
        // The bars are aggregated while the history streams to the server: on a machine of few
        // cores, the client's work and the server's overlap instead of taking turns.
        let alignment = alignment
        let aggregating = Task.detached { batch.barChanges(alignment: alignment) }
        let history = Self.copyText(batch, ids: ids)
        var latest: [String: Tick] = [:]
        for tick in batch.ticks where tick.timeMsc >= latest[tick.symbol]?.timeMsc ?? .min { latest[tick.symbol] = tick }
        let current = Array(latest.values)
        let logger = database.logger
        // A large batch (a spool replayed after a long outage) gets the time it needs.
        let patience = database.patience + .seconds(batch.ticks.count / 10_000)
        return try await database.withTransaction(patience: .some(patience)) { connection in
            // Four round trips: begin, lock (and read) the writer's last batch, history, the rest.
            let last = try await self.lockLastBatch(connection)
            guard batch.id > last else { return false }
            try await Self.copyHistory(history, connection, logger: logger)
            let changes = await aggregating.value
            try await connection.sql(Self.finishBatch(batch.id, writer: self.writer, current: current, changes: changes, ids: ids))
            return true
        }
    }

    /// History rows in COPY's text format, in chunks of about 1 MiB. `seq` keeps the order of
    /// ticks at the same millisecond: the batch's id, then the tick's place in it.
    static func copyText(_ batch: TickBatch, ids: [String: Int32]) -> [ByteBuffer] {
        let base = batch.id << 24
        return copyText(batch.ticks, ids: ids) { base + Int64($0) }
    }

    /// `ticks` as history rows in COPY's text format, `seq(i)` the seq of the i-th.
    static func copyText(_ ticks: [Tick], ids: [String: Int32], seq: (Int) -> Int64) -> [ByteBuffer] {
        var chunks: [ByteBuffer] = []
        var buffer = ByteBuffer()
        buffer.reserveCapacity(1 << 20 + 256)
        for (index, tick) in ticks.enumerated() {
            buffer.writeString("\(ids[tick.symbol]!)\t\(tick.timeMsc)\t\(seq(index))\t\(tick.bid)\t\(tick.ask)\t\(tick.volume)\n")
            if buffer.readableBytes >= 1 << 20 {
                chunks.append(buffer)
                buffer = ByteBuffer()
                buffer.reserveCapacity(1 << 20 + 256)
            }
        }
        if buffer.readableBytes > 0 { chunks.append(buffer) }
        return chunks
    }

    /// Writes history rows made by `copyText` in the connection's transaction.
    static func copyHistory(_ chunks: [ByteBuffer], _ connection: PostgresConnection, logger: Logger) async throws {
        try await connection.copyFrom(table: "tick_history", columns: ["symbol_id", "time_msc", "seq", "bid", "ask", "volume"], logger: logger) { writer in
            for chunk in chunks { try await writer.write(chunk) }
        }
    }

    static func upsertCurrent(_ ticks: [Tick]) -> PostgresQuery {
        var binds = PostgresBindings()
        let sql = currentSQL(ticks, into: &binds)
        return PostgresQuery(unsafeSQL: sql, binds: binds)
    }

    /// The upsert of the latest ticks, its arrays appended to `binds`.
    private static func currentSQL(_ ticks: [Tick], into binds: inout PostgresBindings) -> String {
        let first = binds.count + 1
        binds.append(ticks.map(\.symbol))
        binds.append(ticks.map(\.timeMsc))
        binds.append(ticks.map(\.bid))
        binds.append(ticks.map(\.ask))
        binds.append(ticks.map(\.volume))
        let p = (first..<first + 5).map { "$\($0)" }
        return """
            INSERT INTO tick_current (symbol, time_msc, bid, ask, volume)
            SELECT * FROM unnest(\(p[0])::text[], \(p[1])::bigint[], \(p[2])::float8[], \(p[3])::float8[], \(p[4])::float8[])
            ON CONFLICT (symbol) DO UPDATE SET time_msc = excluded.time_msc, bid = excluded.bid, ask = excluded.ask, volume = excluded.volume
            WHERE excluded.time_msc >= tick_current.time_msc
            """
    }

    static func upsertBars(_ changes: [TickBatch.BarChange], ids: [String: Int32]) -> PostgresQuery {
        var binds = PostgresBindings()
        let sql = barsSQL(changes, ids: ids, into: &binds)
        return PostgresQuery(unsafeSQL: sql, binds: binds)
    }

    /// The upsert of the bars a batch touches, merged as the SQLite store merges them, its arrays
    /// appended to `binds`.
    private static func barsSQL(_ changes: [TickBatch.BarChange], ids: [String: Int32], into binds: inout PostgresBindings) -> String {
        let first = binds.count + 1
        binds.append(changes.map { ids[$0.bar.symbol]! })
        binds.append(changes.map(\.bar.timeframe.rawValue))
        binds.append(changes.map(\.bar.openTime))
        binds.append(changes.map(\.bar.open))
        binds.append(changes.map(\.bar.high))
        binds.append(changes.map(\.bar.low))
        binds.append(changes.map(\.bar.close))
        binds.append(changes.map { Int64($0.bar.ticks) })
        binds.append(changes.map(\.bar.spread))
        binds.append(changes.map(\.firstMsc))
        binds.append(changes.map(\.lastMsc))
        let types = ["integer", "text", "bigint", "float8", "float8", "float8", "float8", "bigint", "float8", "bigint", "bigint"]
        let arrays = types.enumerated().map { "$\(first + $0.offset)::\($0.element)[]" }.joined(separator: ", ")
        return """
            INSERT INTO tick_bars AS bars (symbol_id, timeframe, open_time, open, high, low, close, ticks, spread, first_msc, last_msc)
            SELECT * FROM unnest(\(arrays))
            ON CONFLICT (symbol_id, timeframe, open_time) DO UPDATE SET
                open = CASE WHEN excluded.first_msc < bars.first_msc THEN excluded.open ELSE bars.open END,
                high = greatest(bars.high, excluded.high),
                low = least(bars.low, excluded.low),
                close = CASE WHEN excluded.last_msc >= bars.last_msc THEN excluded.close ELSE bars.close END,
                spread = CASE WHEN excluded.last_msc >= bars.last_msc THEN excluded.spread ELSE bars.spread END,
                ticks = bars.ticks + excluded.ticks,
                first_msc = least(bars.first_msc, excluded.first_msc),
                last_msc = greatest(bars.last_msc, excluded.last_msc)
            """
    }

    /// What a batch changes after its history: the latest prices, the bars and the batch's id as
    /// applied, in one statement (one round trip to the server).
    static func finishBatch(_ batchID: Int64, writer: String, current: [Tick], changes: [TickBatch.BarChange], ids: [String: Int32]) -> PostgresQuery {
        var binds = PostgresBindings()
        let currentSQL = currentSQL(current, into: &binds)
        let barsSQL = barsSQL(changes, ids: ids, into: &binds)
        binds.append(batchID)
        binds.append(writer)
        return PostgresQuery(unsafeSQL: """
            WITH latest AS (\(currentSQL)),
                 applied AS (UPDATE tick_ingest SET last_batch = $\(binds.count - 1) WHERE writer = $\(binds.count))
            \(barsSQL)
            """, binds: binds)
    }

    /// The ids of `names`, made where new.
    func symbolIDs(_ names: Set<String>) async throws -> [String: Int32] {
        let known = symbolIDs.withLock { $0 }
        let missing = names.filter { known[$0] == nil }
        guard !missing.isEmpty else { return known }
        let found = try await database.withConnection { connection in
            let list = Array(missing)
            try await connection.sql("INSERT INTO tick_symbols (name) SELECT unnest(\(list)::text[]) ON CONFLICT (name) DO NOTHING")
            var found: [String: Int32] = [:]
            for try await (id, name) in try await connection.sql("SELECT id, name FROM tick_symbols WHERE name = ANY(\(list)::text[])").decode((Int32, String).self) {
                found[name] = id
            }
            return found
        }
        return symbolIDs.withLock { ids in
            ids.merge(found) { $1 }
            return ids
        }
    }

    public func lastAppliedBatch() async throws -> Int64 {
        try await prepare()
        return try await database.withConnection { connection in
            var last: Int64 = 0
            for try await value in try await connection.sql("SELECT last_batch FROM tick_ingest WHERE writer = \(self.writer)").decode(Int64.self) { last = value }
            return last
        }
    }

    // MARK: Reading

    public func ticks(symbol: String, from: Int64?, to: Int64?, limit: Int?) async throws -> [Tick] {
        try await prepare()
        let from = from ?? Int64.min, to = to ?? Int64.max
        let limit = limit.map(Int64.init)
        return try await database.withConnection { connection in
            var packed: [Tick] = []
            let blocks = try await connection.sql("""
                SELECT data FROM tick_blocks JOIN tick_symbols ON tick_symbols.id = tick_blocks.symbol_id
                WHERE tick_symbols.name = \(symbol) AND end_msc >= \(from) AND start_msc < \(to) ORDER BY start_msc, tick_blocks.ctid
                """)
            for try await data in blocks.decode(ByteBuffer.self) {
                packed += try TickCodec.decode(Array(data.readableBytesView), symbol: symbol).filter { $0.timeMsc >= from && $0.timeMsc < to }
            }
            var unpacked: [Tick] = []
            let rows = try await connection.sql("""
                SELECT time_msc, bid, ask, volume FROM tick_history JOIN tick_symbols ON tick_symbols.id = tick_history.symbol_id
                WHERE tick_symbols.name = \(symbol) AND time_msc >= \(from) AND time_msc < \(to) ORDER BY time_msc, seq LIMIT \(limit)
                """)
            for try await (time, bid, ask, volume) in rows.decode((Int64, Double, Double, Double).self) {
                unpacked.append(Tick(symbol: symbol, timeMsc: time, bid: bid, ask: ask, volume: volume))
            }
            let merged = packed.isEmpty ? unpacked : Tick.merged(packed.sorted { $0.timeMsc < $1.timeMsc }, unpacked)
            return limit.map { Array(merged.prefix(Int($0))) } ?? merged
        }
    }

    public func bars(symbol: String, timeframe: Timeframe, from: Int64?, to: Int64?) async throws -> [Bar] {
        try await prepare()
        return try await database.withConnection { connection in
            let statement = BarsStatement(symbol: symbol, timeframe: timeframe.rawValue, from: from ?? Int64.min, to: to ?? Int64.max)
            var bars: [Bar] = []
            for try await (openTime, open, high, low, close, ticks, spread) in try await connection.execute(statement, logger: quietLogger) {
                bars.append(Bar(symbol: symbol, timeframe: timeframe, openTime: openTime, open: open, high: high, low: low, close: close, ticks: Int(ticks), spread: spread))
            }
            return bars
        }
    }

    public func current() async throws -> [Tick] {
        try await prepare()
        return try await database.withConnection { connection in
            var ticks: [Tick] = []
            let rows = try await connection.sql("SELECT symbol, time_msc, bid, ask, volume FROM tick_current ORDER BY symbol COLLATE \"C\"")
            for try await (symbol, time, bid, ask, volume) in rows.decode((String, Int64, Double, Double, Double).self) {
                ticks.append(Tick(symbol: symbol, timeMsc: time, bid: bid, ask: ask, volume: volume))
            }
            return ticks
        }
    }

    // MARK: Policies

    /// Packs history older than `cutoff` into one block per symbol and UTC day, day by day, each
    /// day in one transaction; a day wholly before the cutoff then has its partition detached and
    /// dropped, and the day the cutoff falls in has its packed rows deleted.
    public func compress(olderThan cutoff: Int64, dryRun: Bool = false) async throws -> TickPolicyReport {
        try await prepare()
        return try await maintenance.run { try await self.pack(olderThan: cutoff, dryRun: dryRun) }
    }

    private func pack(olderThan cutoff: Int64, dryRun: Bool) async throws -> TickPolicyReport {
        var report = TickPolicyReport()
        let days = try await existingPartitions().filter { $0.day * Self.day < cutoff }
        for partition in days {
            let end = min((partition.day + 1) * Self.day, cutoff)
            let whole = end == (partition.day + 1) * Self.day
            guard !dryRun else {
                let groups = try await database.withConnection(patience: .some(nil)) { try await Self.groups(partition.name, before: end, $0) }
                report.ticks += groups.reduce(0) { $0 + Int($1.count) }
                report.blocks += groups.count
                report.rawBytes += groups.reduce(0) { $0 + Int($1.count) * 40 }
                if whole { report.partitionsDropped += 1 }
                continue
            }
            // The day is locked against writes while it is packed (late ticks for it wait), so
            // what is deleted or dropped is exactly what was read into the blocks.
            let (groups, packed) = try await database.withTransaction(patience: .some(nil)) { connection in
                try await connection.sql("SET LOCAL statement_timeout = 0")
                try await connection.sql(PostgresQuery(unsafeSQL: "LOCK TABLE \(partition.name) IN SHARE ROW EXCLUSIVE MODE"))
                let groups = try await Self.groups(partition.name, before: end, connection)
                var bytes = 0
                for group in groups {
                    var ticks: [Tick] = []
                    ticks.reserveCapacity(Int(group.count))
                    let rows = try await connection.sql(PostgresQuery(unsafeSQL: """
                        SELECT time_msc, bid, ask, volume FROM \(partition.name) WHERE symbol_id = $1 AND time_msc < $2 ORDER BY time_msc, seq
                        """, binds: Self.binds(group.id, end)))
                    for try await (time, bid, ask, volume) in rows.decode((Int64, Double, Double, Double).self) {
                        ticks.append(Tick(symbol: group.name, timeMsc: time, bid: bid, ask: ask, volume: volume))
                    }
                    guard let first = ticks.first, let last = ticks.last else { continue }
                    let data = try TickCodec.encode(ticks)
                    bytes += data.count
                    try await connection.sql("""
                        INSERT INTO tick_blocks (symbol_id, start_msc, end_msc, count, data)
                        VALUES (\(group.id), \(first.timeMsc), \(last.timeMsc), \(Int32(ticks.count)), \(ByteBuffer(bytes: data)))
                        """)
                }
                if whole {
                    try await connection.sql(PostgresQuery(unsafeSQL: "ALTER TABLE tick_history DETACH PARTITION \(partition.name)"))
                    try await connection.sql(PostgresQuery(unsafeSQL: "DROP TABLE \(partition.name)"))
                } else {
                    try await connection.sql(PostgresQuery(unsafeSQL: "DELETE FROM \(partition.name) WHERE time_msc < $1", binds: Self.binds(end)))
                }
                return (groups, bytes)
            }
            report.ticks += groups.reduce(0) { $0 + Int($1.count) }
            report.blocks += groups.count
            report.rawBytes += groups.reduce(0) { $0 + Int($1.count) * 40 }
            report.packedBytes += packed
            if whole {
                report.partitionsDropped += 1
                partitions.withLock { _ = $0.remove(partition.day) }
            }
        }
        return report
    }

    /// The symbols of a day's partition with rows before `end`, and how many each.
    private static func groups(_ partition: String, before end: Int64, _ connection: PostgresConnection) async throws -> [(id: Int32, name: String, count: Int64)] {
        var groups: [(id: Int32, name: String, count: Int64)] = []
        let rows = try await connection.sql(PostgresQuery(unsafeSQL: """
            SELECT symbol_id, name, count(*) FROM \(partition) JOIN tick_symbols ON tick_symbols.id = symbol_id
            WHERE time_msc < $1 GROUP BY symbol_id, name ORDER BY symbol_id
            """, binds: Self.binds(end)))
        for try await group in rows.decode((Int32, String, Int64).self) { groups.append(group) }
        return groups
    }

    /// Drops history, packed or not, older than `cutoff`: whole partitions where a day is wholly
    /// before it, rows in the day it falls in; bars are kept.
    public func retain(olderThan cutoff: Int64, dryRun: Bool = false) async throws -> TickPolicyReport {
        try await prepare()
        return try await maintenance.run { try await self.drop(olderThan: cutoff, dryRun: dryRun) }
    }

    private func drop(olderThan cutoff: Int64, dryRun: Bool) async throws -> TickPolicyReport {
        let days = try await existingPartitions().filter { $0.day * Self.day < cutoff }
        let report = try await database.withTransaction(patience: .some(nil)) { connection in
            try await connection.sql("SET LOCAL statement_timeout = 0")
            var report = TickPolicyReport()
            for partition in days {
                for try await count in try await connection.sql(PostgresQuery(unsafeSQL: "SELECT count(*) FROM \(partition.name) WHERE time_msc < $1", binds: Self.binds(cutoff))).decode(Int64.self) {
                    report.ticks += Int(count)
                }
            }
            for try await count in try await connection.sql("SELECT coalesce(sum(count), 0)::bigint FROM tick_blocks WHERE end_msc < \(cutoff)").decode(Int64.self) {
                report.ticks += Int(count)
            }
            for try await count in try await connection.sql("SELECT count(*) FROM tick_blocks WHERE start_msc < \(cutoff)").decode(Int64.self) {
                report.blocks = Int(count)
            }
            var straddling: [(String, String, ByteBuffer)] = []
            let rows = try await connection.sql("""
                SELECT tick_blocks.ctid::text, name, data FROM tick_blocks JOIN tick_symbols ON tick_symbols.id = tick_blocks.symbol_id
                WHERE start_msc < \(cutoff) AND end_msc >= \(cutoff)
                """)
            for try await row in rows.decode((String, String, ByteBuffer).self) { straddling.append(row) }
            for (ctid, name, data) in straddling {
                let ticks = try TickCodec.decode(Array(data.readableBytesView), symbol: name)
                let kept = ticks.filter { $0.timeMsc >= cutoff }
                report.ticks += ticks.count - kept.count
                guard !dryRun else { continue }
                try await connection.sql("""
                    UPDATE tick_blocks SET start_msc = \(kept.first!.timeMsc), count = \(Int32(kept.count)), data = \(ByteBuffer(bytes: try TickCodec.encode(kept)))
                    WHERE ctid = \(ctid)::tid
                    """)
            }
            for partition in days where (partition.day + 1) * Self.day <= cutoff {
                report.partitionsDropped += 1
                guard !dryRun else { continue }
                try await connection.sql(PostgresQuery(unsafeSQL: "ALTER TABLE tick_history DETACH PARTITION \(partition.name)"))
                try await connection.sql(PostgresQuery(unsafeSQL: "DROP TABLE \(partition.name)"))
            }
            guard !dryRun else { return report }
            for partition in days where (partition.day + 1) * Self.day > cutoff {
                try await connection.sql(PostgresQuery(unsafeSQL: "DELETE FROM \(partition.name) WHERE time_msc < $1", binds: Self.binds(cutoff)))
            }
            try await connection.sql("DELETE FROM tick_blocks WHERE end_msc < \(cutoff)")
            return report
        }
        if !dryRun { partitions.withLock { known in for day in days where (day.day + 1) * Self.day <= cutoff { known.remove(day.day) } } }
        return report
    }

    public func stats() async throws -> [String: Int] {
        try await prepare()
        return try await database.withConnection { connection in
            let rows = try await connection.sql("""
                SELECT (SELECT count(*) FROM tick_history), (SELECT count(*) FROM tick_bars), (SELECT count(*) FROM tick_symbols),
                       (SELECT count(*) FROM tick_blocks), (SELECT coalesce(sum(count), 0)::bigint FROM tick_blocks),
                       (SELECT coalesce(sum(octet_length(data)), 0)::bigint FROM tick_blocks),
                       (SELECT count(*) FROM pg_inherits WHERE inhparent = 'tick_history'::regclass),
                       pg_database_size(current_database())
                """)
            var stats: [String: Int] = [:]
            for try await (history, bars, symbols, blocks, packedTicks, packedBytes, partitions, size) in rows.decode((Int64, Int64, Int64, Int64, Int64, Int64, Int64, Int64).self) {
                stats = [
                    "history_rows": Int(history), "bars": Int(bars), "symbols": Int(symbols), "packed_blocks": Int(blocks),
                    "packed_ticks": Int(packedTicks), "packed_bytes": Int(packedBytes), "partitions": Int(partitions), "database_bytes": Int(size),
                ]
            }
            return stats
        }
    }

    public func tickCounts(from: Int64, to: Int64) async throws -> [String: Int] {
        try await prepare()
        return try await database.withConnection { connection in
            var counts: [String: Int] = [:]
            let rows = try await connection.sql("""
                SELECT name, count(*) FROM tick_history JOIN tick_symbols ON tick_symbols.id = tick_history.symbol_id
                WHERE time_msc >= \(from) AND time_msc < \(to) GROUP BY name
                """)
            for try await (name, count) in rows.decode((String, Int64).self) { counts[name, default: 0] += Int(count) }
            let blocks = try await connection.sql("""
                SELECT name, count, start_msc, end_msc, data FROM tick_blocks JOIN tick_symbols ON tick_symbols.id = tick_blocks.symbol_id
                WHERE end_msc >= \(from) AND start_msc < \(to)
                """)
            for try await (name, count, start, end, data) in blocks.decode((String, Int32, Int64, Int64, ByteBuffer).self) {
                if start >= from, end < to {
                    counts[name, default: 0] += Int(count)
                } else {
                    counts[name, default: 0] += try TickCodec.decode(Array(data.readableBytesView), symbol: name).filter { $0.timeMsc >= from && $0.timeMsc < to }.count
                }
            }
            return counts
        }
    }

    /// The server answers, the schema is there, and tomorrow's partition exists (it is made two
    /// days ahead: missing, ticks after midnight would wait for it).
    public func problems() async throws -> [String] {
        try await prepare()
        try await makePartitionsAhead()
        try await indexClosedDays()
        let tomorrow = Self.day(of: Int64(Date().timeIntervalSince1970 * 1000)) + 1
        let names = Set(try await existingPartitions().map(\.day))
        if !names.contains(tomorrow) { partitions.withLock { $0.removeAll() } }
        return names.contains(tomorrow) ? [] : ["no partition for tomorrow (\(Self.partitionName(day: tomorrow))): the store makes them as ticks arrive; check the user may create tables"]
    }

    static func binds(_ values: any PostgresNonThrowingEncodable...) -> PostgresBindings {
        var binds = PostgresBindings()
        for value in values { binds.append(value) }
        return binds
    }
}

/// The bars of a symbol and timeframe over a time range: prepared once per connection (charts
/// and checks read bars often; planning the join each time was a good part of a read).
struct BarsStatement: PostgresPreparedStatement {
    static let name = "runbook_tick_bars"
    static let sql = """
        SELECT open_time, open, high, low, close, ticks, spread FROM tick_bars JOIN tick_symbols ON tick_symbols.id = tick_bars.symbol_id
        WHERE tick_symbols.name = $1 AND timeframe = $2 AND open_time >= $3 AND open_time < $4 ORDER BY open_time
        """
    typealias Row = (Int64, Double, Double, Double, Double, Int64, Double)

    var symbol: String
    var timeframe: String
    var from: Int64
    var to: Int64

    func makeBindings() throws -> PostgresBindings {
        var binds = PostgresBindings()
        binds.append(symbol)
        binds.append(timeframe)
        binds.append(from)
        binds.append(to)
        return binds
    }

    func decodeRow(_ row: PostgresRow) throws -> Row { try row.decode(Row.self) }
}

extension Calendar {
    static let utc: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar
    }()
}

