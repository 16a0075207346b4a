import Foundation
import GRDB
import RunbookStore
import Synchronization

/// Ticks in a SQLite file of their own (WAL): `history` (every tick, one table for all symbols),
/// `current` (the latest tick per symbol), `bars` (the nine timeframes), and `ingest` (the last
/// batch applied, written in the batch's own transaction so a replay never stores a tick twice).
public final class SQLiteTickStore: TickStore, Sendable {
    public let path: String
    public let alignment: BarAlignment
    let database: DatabaseQueue
    private let symbolIDs = Mutex<[String: Int64]>([:])

    /// `busyTimeout`: how long a write waits for a lock another connection holds before it fails
    /// (and the ingest retries, then spools).
    public init(path: String, alignment: BarAlignment = BarAlignment(), busyTimeout: TimeInterval = 5) throws {
        self.path = path
        self.alignment = alignment
        do {
            database = try SQLiteFile.queue(at: path, busyTimeout: busyTimeout)
            try Self.migrator.migrate(database)
        } catch {
            throw RecordsError("cannot open the tick store at \(path): \(error)")
        }
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: history, current, bars") { db in
            try db.execute(sql: """
                CREATE TABLE symbols (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
                CREATE TABLE history (symbol_id INTEGER NOT NULL, time_msc INTEGER NOT NULL, bid REAL NOT NULL, ask REAL NOT NULL, volume REAL NOT NULL);
                CREATE INDEX history_by_symbol_time ON history (symbol_id, time_msc);
                CREATE TABLE current (symbol TEXT PRIMARY KEY, time_msc INTEGER NOT NULL, bid REAL NOT NULL, ask REAL NOT NULL, volume REAL NOT NULL) WITHOUT ROWID;
                CREATE TABLE bars (
                    symbol_id INTEGER NOT NULL, timeframe TEXT NOT NULL, open_time INTEGER NOT NULL,
                    open REAL NOT NULL, high REAL NOT NULL, low REAL NOT NULL, close REAL NOT NULL,
                    ticks INTEGER NOT NULL, spread REAL NOT NULL, first_msc INTEGER NOT NULL, last_msc INTEGER NOT NULL,
                    PRIMARY KEY (symbol_id, timeframe, open_time)
                ) WITHOUT ROWID;
                CREATE TABLE ingest (id INTEGER PRIMARY KEY CHECK (id = 1), last_batch INTEGER NOT NULL);
                INSERT INTO ingest VALUES (1, 0);
                """)
        }
        migrator.registerMigration("v2: packed blocks") { db in
            try db.execute(sql: """
                CREATE TABLE blocks (
                    symbol_id INTEGER NOT NULL, start_msc INTEGER NOT NULL, end_msc INTEGER NOT NULL,
                    count INTEGER NOT NULL, data BLOB NOT NULL
                );
                CREATE INDEX blocks_by_symbol_time ON blocks (symbol_id, start_msc);
                """)
        }
        return migrator
    }

    // MARK: Writing

    @discardableResult
    public func store(_ batch: TickBatch) throws -> Bool {
        let changes = batch.barChanges(alignment: alignment)
        var latest: [String: Tick] = [:]
        for tick in batch.ticks where tick.timeMsc >= latest[tick.symbol]?.timeMsc ?? .min { latest[tick.symbol] = tick }
        return try database.writeWithoutTransaction { db in
            var applied = false
            try db.inTransaction(.immediate) {
                let last = try Int64.fetchOne(db.cachedStatement(sql: "SELECT last_batch FROM ingest WHERE id = 1")) ?? 0
                guard batch.id > last else { return .rollback }
                // Many rows per statement: far fewer statement runs than ticks.
                let rows = Self.rowsPerInsert
                let many = try db.cachedStatement(sql: "INSERT INTO history (symbol_id, time_msc, bid, ask, volume) VALUES " + Array(repeating: "(?, ?, ?, ?, ?)", count: rows).joined(separator: ", "))
                let one = try db.cachedStatement(sql: "INSERT INTO history (symbol_id, time_msc, bid, ask, volume) VALUES (?, ?, ?, ?, ?)")
                var index = 0
                while index < batch.ticks.count {
                    let chunk = batch.ticks[index..<min(index + rows, batch.ticks.count)]
                    var values: [(any DatabaseValueConvertible)?] = []
                    values.reserveCapacity(chunk.count * 5)
                    for tick in chunk { values += [try symbolID(tick.symbol, db), tick.timeMsc, tick.bid, tick.ask, tick.volume] }
                    if chunk.count == rows {
                        try many.execute(arguments: StatementArguments(values))
                    } else {
                        for start in stride(from: 0, to: values.count, by: 5) { try one.execute(arguments: StatementArguments(values[start..<start + 5])) }
                    }
                    index += chunk.count
                }
                let current = try db.cachedStatement(sql: """
                    INSERT INTO current (symbol, time_msc, bid, ask, volume) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT(symbol) DO UPDATE SET time_msc = excluded.time_msc, bid = excluded.bid, ask = excluded.ask, volume = excluded.volume
                    WHERE excluded.time_msc >= current.time_msc
                    """)
                for tick in latest.values { try current.execute(arguments: [tick.symbol, tick.timeMsc, tick.bid, tick.ask, tick.volume]) }
                let bars = try db.cachedStatement(sql: """
                    INSERT INTO bars (symbol_id, timeframe, open_time, open, high, low, close, ticks, spread, first_msc, last_msc)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT(symbol_id, timeframe, open_time) DO UPDATE SET
                        open = CASE WHEN excluded.first_msc < bars.first_msc THEN excluded.open ELSE bars.open END,
                        high = max(bars.high, excluded.high),
                        low = min(bars.low, excluded.low),
                        close = CASE WHEN excluded.last_msc >= bars.last_msc THEN excluded.close ELSE bars.close END,
                        spread = CASE WHEN excluded.last_msc >= bars.last_msc THEN excluded.spread ELSE bars.spread END,
                        ticks = bars.ticks + excluded.ticks,
                        first_msc = min(bars.first_msc, excluded.first_msc),
                        last_msc = max(bars.last_msc, excluded.last_msc)
                    """)
                for change in changes {
                    let bar = change.bar
                    try bars.execute(arguments: [
                        try symbolID(bar.symbol, db), bar.timeframe.rawValue, bar.openTime, bar.open, bar.high, bar.low,
                        bar.close, bar.ticks, bar.spread, change.firstMsc, change.lastMsc,
                    ])
                }
                try db.cachedStatement(sql: "UPDATE ingest SET last_batch = ? WHERE id = 1").execute(arguments: [batch.id])
                applied = true
                return .commit
            }
            return applied
        }
    }

    private func symbolID(_ name: String, _ db: Database) throws -> Int64 {
        if let id = symbolIDs.withLock({ $0[name] }) { return id }
        try db.cachedStatement(sql: "INSERT OR IGNORE INTO symbols (name) VALUES (?)").execute(arguments: [name])
        let id = try Int64.fetchOne(db.cachedStatement(sql: "SELECT id FROM symbols WHERE name = ?"), arguments: [name])!
        symbolIDs.withLock { $0[name] = id }
        return id
    }

    public func lastAppliedBatch() async throws -> Int64 {
        try await database.read { db in try Int64.fetchOne(db, sql: "SELECT last_batch FROM ingest WHERE id = 1") ?? 0 }
    }

    // MARK: Reading

    /// Packed and unpacked history alike, oldest first.
    public func ticks(symbol: String, from: Int64?, to: Int64?, limit: Int?) async throws -> [Tick] {
        let from = from ?? Int64.min, to = to ?? Int64.max
        return try await database.read { db in
            var packed: [Tick] = []
            let blocks = try Row.fetchAll(db, sql: """
                SELECT data FROM blocks JOIN symbols ON symbols.id = blocks.symbol_id
                WHERE symbols.name = ? AND end_msc >= ? AND start_msc < ? ORDER BY start_msc, blocks.rowid
                """, arguments: [symbol, from, to])
            for block in blocks {
                packed += try TickCodec.decode([UInt8](block[0] as Data), symbol: symbol).filter { $0.timeMsc >= from && $0.timeMsc < to }
            }
            let unpacked = try Row.fetchAll(db, sql: """
                SELECT time_msc, bid, ask, volume FROM history JOIN symbols ON symbols.id = history.symbol_id
                WHERE symbols.name = ? AND time_msc >= ? AND time_msc < ? ORDER BY time_msc, history.rowid LIMIT ?
                """, arguments: [symbol, from, to, limit ?? -1]
            ).map { Tick(symbol: symbol, timeMsc: $0[0], bid: $0[1], ask: $0[2], volume: $0[3]) }
            let merged = packed.isEmpty ? unpacked : Tick.merged(packed.sorted { $0.timeMsc < $1.timeMsc }, unpacked)
            return limit.map { Array(merged.prefix($0)) } ?? merged
        }
    }

    // MARK: Policies

    public typealias PolicyReport = TickPolicyReport

    static let day: Int64 = 86_400_000
    static let rowsPerInsert = 64

    /// Packs history older than `cutoff` into one block per symbol and UTC day.
    public func compressNow(olderThan cutoff: Int64, dryRun: Bool = false) throws -> PolicyReport {
        let groups = try database.read { db in
            try Row.fetchAll(db, sql: """
                SELECT symbol_id, name, time_msc / \(Self.day) - (time_msc < 0 AND time_msc % \(Self.day) != 0) AS day, count(*)
                FROM history JOIN symbols ON symbols.id = history.symbol_id WHERE time_msc < ? GROUP BY symbol_id, day ORDER BY symbol_id, day
                """, arguments: [cutoff]).map { (id: $0[0] as Int64, name: $0[1] as String, day: $0[2] as Int64, count: $0[3] as Int) }
        }
        var report = PolicyReport()
        for group in groups {
            let start = group.day * Self.day
            let end = min(start + Self.day, cutoff)
            report.ticks += group.count
            report.blocks += 1
            report.rawBytes += group.count * 40
            guard !dryRun else { continue }
            report.packedBytes += try database.write { db -> Int in
                let ticks = try Row.fetchAll(db, sql: "SELECT time_msc, bid, ask, volume FROM history WHERE symbol_id = ? AND time_msc >= ? AND time_msc < ? ORDER BY time_msc, rowid", arguments: [group.id, start, end])
                    .map { Tick(symbol: group.name, timeMsc: $0[0], bid: $0[1], ask: $0[2], volume: $0[3]) }
                guard let first = ticks.first, let last = ticks.last else { return 0 }
                let data = try TickCodec.encode(ticks)
                try db.execute(sql: "INSERT INTO blocks (symbol_id, start_msc, end_msc, count, data) VALUES (?, ?, ?, ?, ?)", arguments: [group.id, first.timeMsc, last.timeMsc, ticks.count, Data(data)])
                try db.execute(sql: "DELETE FROM history WHERE symbol_id = ? AND time_msc >= ? AND time_msc < ?", arguments: [group.id, start, end])
                return data.count
            }
        }
        return report
    }

    /// Drops history, packed or not, older than `cutoff`; bars are kept.
    public func retainNow(olderThan cutoff: Int64, dryRun: Bool = false) throws -> PolicyReport {
        try database.write { db in
            var report = PolicyReport()
            report.ticks = try Int.fetchOne(db, sql: "SELECT count(*) FROM history WHERE time_msc < ?", arguments: [cutoff]) ?? 0
            report.ticks += try Int.fetchOne(db, sql: "SELECT coalesce(sum(count), 0) FROM blocks WHERE end_msc < ?", arguments: [cutoff]) ?? 0
            report.blocks = try Int.fetchOne(db, sql: "SELECT count(*) FROM blocks WHERE start_msc < ?", arguments: [cutoff]) ?? 0
            let straddling = try Row.fetchAll(db, sql: """
                SELECT blocks.rowid, name, data FROM blocks JOIN symbols ON symbols.id = blocks.symbol_id WHERE start_msc < ? AND end_msc >= ?
                """, arguments: [cutoff, cutoff])
            for block in straddling {
                let ticks = try TickCodec.decode([UInt8](block[2] as Data), symbol: block[1])
                let kept = ticks.filter { $0.timeMsc >= cutoff }
                report.ticks += ticks.count - kept.count
                guard !dryRun else { continue }
                let rowid: Int64 = block[0]
                try db.execute(sql: "UPDATE blocks SET start_msc = ?, count = ?, data = ? WHERE rowid = ?", arguments: [kept.first!.timeMsc, kept.count, Data(try TickCodec.encode(kept)), rowid])
            }
            guard !dryRun else { return report }
            try db.execute(sql: "DELETE FROM history WHERE time_msc < ?", arguments: [cutoff])
            try db.execute(sql: "DELETE FROM blocks WHERE end_msc < ?", arguments: [cutoff])
            return report
        }
    }

    public func compress(olderThan cutoff: Int64, dryRun: Bool) async throws -> PolicyReport {
        try compressNow(olderThan: cutoff, dryRun: dryRun)
    }

    public func retain(olderThan cutoff: Int64, dryRun: Bool) async throws -> PolicyReport {
        try retainNow(olderThan: cutoff, dryRun: dryRun)
    }

    public func bars(symbol: String, timeframe: Timeframe, from: Int64?, to: Int64?) async throws -> [Bar] {
        try await database.read { db in
            try Row.fetchAll(db, sql: """
                SELECT open_time, open, high, low, close, ticks, spread FROM bars JOIN symbols ON symbols.id = bars.symbol_id
                WHERE symbols.name = ? AND timeframe = ? AND open_time >= ? AND open_time < ? ORDER BY open_time
                """, arguments: [symbol, timeframe.rawValue, from ?? Int64.min, to ?? Int64.max]
            ).map { Bar(symbol: symbol, timeframe: timeframe, openTime: $0[0], open: $0[1], high: $0[2], low: $0[3], close: $0[4], ticks: $0[5], spread: $0[6]) }
        }
    }

    public func current() async throws -> [Tick] {
        try await database.read { db in
            try Row.fetchAll(db, sql: "SELECT symbol, time_msc, bid, ask, volume FROM current ORDER BY symbol")
                .map { Tick(symbol: $0[0], timeMsc: $0[1], bid: $0[2], ask: $0[3], volume: $0[4]) }
        }
    }

    public func tickCounts(from: Int64, to: Int64) async throws -> [String: Int] {
        try await database.read { db in
            var counts: [String: Int] = [:]
            for row in try Row.fetchAll(db, sql: """
                SELECT name, count(*) FROM history JOIN symbols ON symbols.id = history.symbol_id
                WHERE time_msc >= ? AND time_msc < ? GROUP BY name
                """, arguments: [from, to]) {
                counts[row[0], default: 0] += row[1] as Int
            }
            for row in try Row.fetchAll(db, sql: """
                SELECT name, count, start_msc, end_msc, data FROM blocks JOIN symbols ON symbols.id = blocks.symbol_id
                WHERE end_msc >= ? AND start_msc < ?
                """, arguments: [from, to]) {
                let name: String = row[0]
                if (row[2] as Int64) >= from, (row[3] as Int64) < to {
                    counts[name, default: 0] += row[1] as Int
                } else {
                    counts[name, default: 0] += try TickCodec.decode([UInt8](row[4] as Data), symbol: name).filter { $0.timeMsc >= from && $0.timeMsc < to }.count
                }
            }
            return counts
        }
    }

    /// `quick_check` on a read-only connection of its own: under WAL it reads beside the
    /// ingest's writes instead of holding the store's one connection for the whole scan.
    public func problems() async throws -> [String] {
        try await readOnce(path) { db in try String.fetchAll(db, sql: "PRAGMA quick_check") }.filter { $0 != "ok" }
    }

    /// Rows and size, for `runbook store stats`.
    public func stats() async throws -> [String: Int] {
        try await database.read { db in
            [
                "history_rows": try Int.fetchOne(db, sql: "SELECT count(*) FROM history") ?? 0,
                "bars": try Int.fetchOne(db, sql: "SELECT count(*) FROM bars") ?? 0,
                "symbols": try Int.fetchOne(db, sql: "SELECT count(*) FROM symbols") ?? 0,
                "packed_blocks": try Int.fetchOne(db, sql: "SELECT count(*) FROM blocks") ?? 0,
                "packed_ticks": try Int.fetchOne(db, sql: "SELECT coalesce(sum(count), 0) FROM blocks") ?? 0,
                "packed_bytes": try Int.fetchOne(db, sql: "SELECT coalesce(sum(length(data)), 0) FROM blocks") ?? 0,
                "file_bytes": (try Int.fetchOne(db, sql: "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()")) ?? 0,
            ]
        }
    }
}
