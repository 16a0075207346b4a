import Foundation
import GRDB
import RunbookPostgres
import RunbookSQLite
import RunbookStore
import RunbookTestSupport
import Testing

/// `runbook store migrate --to postgresql` against a real PostgreSQL server: what the copy reads
/// back, a copy killed half way and run again, a tampered copy, and the errors.
@Suite(.serialized) struct StoreMigrateTests {
    static let symbols = ["EURUSD", "GBPUSD", "USDJPY"]
    static let day: Int64 = 86_400_000

    /// A SQLite store as the engine leaves it: three symbols over six days, ticks in pairs at the
    /// same millisecond, the three oldest days packed into blocks, then late ticks into a packed
    /// day at the very milliseconds of packed ones, and a batch out of time order.
    static func makeStore(at path: String) async throws -> SQLiteTickStore {
        let store = try SQLiteTickStore(path: path)
        // Noon UTC today: each day's ticks stay within their UTC day whatever the time the test runs at.
        let noon = Int64(Date().timeIntervalSince1970 * 1000) / day * day + day / 2
        var id: Int64 = 0
        for age in stride(from: Int64(5), through: 0, by: -1) {
            for (index, symbol) in symbols.enumerated() {
                let base = symbol == "USDJPY" ? 151.2 : 1.08 + Double(index) * 0.17
                let ticks = (0..<300).map { n in
                    let bid = base + Double((n * 37 + index) % 90) / (symbol == "USDJPY" ? 1e3 : 1e5)
                    return Tick(symbol: symbol, timeMsc: noon - age * day + Int64(n / 2) * 700 + Int64(index), bid: bid, ask: bid + 0.0002 + Double(n % 3) / 1e5, volume: Double(n % 4))
                }
                id += 1
                try store.store(TickBatch(id: id, ticks: ticks))
            }
        }
        let report = try await store.compress(olderThan: noon - 2 * day, dryRun: false)
        #expect(report.blocks == 9)
        let late = (0..<20).map { n in Tick(symbol: "EURUSD", timeMsc: noon - 4 * day + Int64(n) * 700, bid: 1.09 + Double(n) / 1e5, ask: 1.0903, volume: 7) }
        try store.store(TickBatch(id: id + 5, ticks: late))
        let backwards = (0..<30).reversed().map { n in Tick(symbol: "GBPUSD", timeMsc: noon + 200_000 + Int64(n / 3) * 10, bid: 1.25 + Double(n) / 1e5, ask: 1.2502) }
        try store.store(TickBatch(id: id + 9, ticks: backwards))
        return store
    }

    /// Every read of the two stores is the same: ticks (whole and in a range across a packed
    /// day), bars of every timeframe, the latest ticks and the last batch applied.
    static func expectSameReads(_ sqlite: SQLiteTickStore, _ postgres: PostgresTickStore) async throws {
        for symbol in symbols {
            let ticks = try await sqlite.ticks(symbol: symbol, from: nil, to: nil, limit: nil)
            #expect(ticks.count > 1000)
            #expect(try await postgres.ticks(symbol: symbol, from: nil, to: nil, limit: nil) == ticks, "ticks of \(symbol)")
            let from = ticks[ticks.count / 4].timeMsc, to = ticks[ticks.count * 3 / 4].timeMsc
            #expect(try await postgres.ticks(symbol: symbol, from: from, to: to, limit: 500) == sqlite.ticks(symbol: symbol, from: from, to: to, limit: 500))
            for timeframe in Timeframe.allCases {
                let bars = try await sqlite.bars(symbol: symbol, timeframe: timeframe, from: nil, to: nil)
                #expect(!bars.isEmpty)
                #expect(try await postgres.bars(symbol: symbol, timeframe: timeframe, from: nil, to: nil) == bars, "\(timeframe) bars of \(symbol)")
            }
        }
        #expect(try await postgres.current() == sqlite.current())
        #expect(try await postgres.lastAppliedBatch() == sqlite.lastAppliedBatch())
    }

    static func database(of url: String) -> String { String(url.split(separator: "/").last!) }

    /// A fresh database on the tests' server, and a scratch folder whose `var/ticks.db` is `makeStore`'s.
    struct Place {
        let server: PostgresServer
        let url: String
        let cli: CLIHarness
        let sqlite: SQLiteTickStore

        /// The database's name, for `server.sql`.
        var name: String { StoreMigrateTests.database(of: url) }

        static func make() async throws -> Place {
            let server = try await PostgresServer.shared()
            let url = try await server.makeDatabase()
            let cli = try CLIHarness()
            try FileManager.default.createDirectory(atPath: cli.path("var"), withIntermediateDirectories: true)
            return Place(server: server, url: url, cli: cli, sqlite: try await StoreMigrateTests.makeStore(at: cli.path("var/ticks.db")))
        }
    }

    func migrate(_ cli: CLIHarness, url: String, _ extra: [String] = []) throws -> CLIHarness.Result {
        try cli.finish(try cli.start(["store", "migrate", "--to", "postgresql"] + extra, environment: ["RUNBOOK_STORE_URL": url]))
    }

    @Test func copiesEveryTickPackedBlockAndBarAndReadsBackTheSame() async throws {
        let place = try await Place.make()
        let (server, url, cli, sqlite, name) = (place.server, place.url, place.cli, place.sqlite, place.name)
        defer { cli.remove() }

        let run = try migrate(cli, url: url, ["--batch", "500"])
        #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)")
        #expect(!run.stdout.contains(PostgresServer.password) && !run.stderr.contains(PostgresServer.password))
        #expect(run.stderr.isEmpty, "no progress off a terminal: \(run.stderr)")
        for symbol in Self.symbols { #expect(run.stdout.contains("\(symbol): copied "), "\(run.stdout)") }
        #expect(run.stdout.contains("EURUSD: copied 1820 ticks (900 of them in 3 packed blocks)"), "\(run.stdout)")
        #expect(run.stdout.contains("migrated:"))

        // As the engine of this data folder will: its batches are numbered on from the copied last one.
        let postgres = try await PostgresTickStore.open(url: PostgresURL(url), writer: try String(contentsOfFile: cli.path("var/ticks.writer"), encoding: .utf8))
        defer { postgres.close() }
        try await Self.expectSameReads(sqlite, postgres)
        // Blocks byte for byte, not repacked; bars with the times of their first and last tick.
        let file = try DatabaseQueue(path: cli.path("var/ticks.db"))
        for (sqliteQuery, postgresQuery) in [
            ("SELECT name || ' ' || start_msc || ' ' || end_msc || ' ' || count || ' ' || lower(hex(data)) FROM blocks JOIN symbols ON id = symbol_id ORDER BY name, start_msc",
             "SELECT name || ' ' || start_msc || ' ' || end_msc || ' ' || count || ' ' || encode(data, 'hex') FROM tick_blocks JOIN tick_symbols ON id = symbol_id ORDER BY name, start_msc"),
            ("SELECT name || ' ' || timeframe || ' ' || open_time || ' ' || first_msc || ' ' || last_msc FROM bars JOIN symbols ON id = symbol_id ORDER BY name, timeframe, open_time",
             "SELECT name || ' ' || timeframe || ' ' || open_time || ' ' || first_msc || ' ' || last_msc FROM tick_bars JOIN tick_symbols ON id = symbol_id ORDER BY name, timeframe, open_time"),
        ] {
            let rows = try await file.read { try String.fetchAll($0, sql: sqliteQuery) }
            #expect(rows.count >= 9)
            #expect(try await server.sql(postgresQuery, database: name) == rows.joined(separator: "\n"))
        }
        try file.close()
        // Run again: nothing more is copied, and the two still compare equal.
        let again = try migrate(cli, url: url)
        #expect(again.status == 0, "\(again.stdout)\n\(again.stderr)")
        #expect(again.stdout.contains("EURUSD: copied 0 ticks (0 of them in 0 packed blocks) and 0 bars, after 1820 ticks and"), "\(again.stdout)")
        try await Self.expectSameReads(sqlite, postgres)
        // The ingest goes on from the last batch: a replay is skipped, and a tick at the very
        // millisecond of a copied one reads after it.
        let lastBatch = try await sqlite.lastAppliedBatch()
        let latest = try #require(try await sqlite.ticks(symbol: "GBPUSD", from: nil, to: nil, limit: nil).last)
        #expect(try await postgres.apply(TickBatch(id: lastBatch, ticks: [latest])) == false)
        let next = Tick(symbol: "GBPUSD", timeMsc: latest.timeMsc, bid: 1.3, ask: 1.3002)
        #expect(try await postgres.apply(TickBatch(id: lastBatch + 1, ticks: [next])))
        #expect(try await postgres.ticks(symbol: "GBPUSD", from: latest.timeMsc, to: nil, limit: nil).suffix(2) == [latest, next])
    }

    @Test func aMigrationKilledHalfWayGoesOnAndStoresEveryTickOnce() async throws {
        let place = try await Place.make()
        let (server, url, cli, sqlite, name) = (place.server, place.url, place.cli, place.sqlite, place.name)
        defer { cli.remove() }
        let total = try await sqlite.holdings().values.reduce(0) { $0 + $1.ticks }

        // Killed (SIGKILL) twice once it has stored some ticks, each time further on.
        let storedQuery = "SELECT (SELECT count(*) FROM tick_history) + (SELECT coalesce(sum(count), 0) FROM tick_blocks)"
        var before = 0
        for _ in 0..<2 {
            let started = try cli.start(["store", "migrate", "--to", "postgresql", "--batch", "2"], environment: ["RUNBOOK_STORE_URL": url])
            let deadline = ContinuousClock.now + .seconds(60)
            while started.0.isRunning, ContinuousClock.now < deadline {
                let stored = Int((try? await server.sql(storedQuery, database: name)) ?? "") ?? 0
                if stored > before + 40 { break }
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(started.0.isRunning, "the migration finished before it could be killed")
            kill(started.0.processIdentifier, SIGKILL)
            let result = try cli.finish(started)
            #expect(started.0.terminationReason == .uncaughtSignal && result.status == SIGKILL)
            let stored = Int(try await server.sql(storedQuery, database: name))!
            #expect(stored > before && stored < total, "killed with \(stored) of \(total) ticks stored")
            before = stored
        }

        let last = try migrate(cli, url: url, ["--batch", "2"])
        #expect(last.status == 0, "\(last.stdout)\n\(last.stderr)")
        #expect(last.stdout.contains("copied by an earlier run"), "\(last.stdout)")
        #expect(try await server.sql("SELECT (SELECT count(*) FROM tick_history) + (SELECT sum(count) FROM tick_blocks)", database: name) == "\(total)")
        #expect(try await server.sql("SELECT count(*) FROM (SELECT symbol_id, time_msc, seq FROM tick_history GROUP BY 1, 2, 3 HAVING count(*) > 1) AS twice", database: name) == "0")
        // As the engine of this data folder will: its batches are numbered on from the copied last one.
        let postgres = try await PostgresTickStore.open(url: PostgresURL(url), writer: try String(contentsOfFile: cli.path("var/ticks.writer"), encoding: .utf8))
        defer { postgres.close() }
        try await Self.expectSameReads(sqlite, postgres)
    }

    @Test func aCopyThatDiffersIsReportedAndExitsOne() async throws {
        let place = try await Place.make()
        let (server, url, cli, name) = (place.server, place.url, place.cli, place.name)
        defer { cli.remove() }
        #expect(try migrate(cli, url: url).status == 0)

        try await server.sql("""
            DELETE FROM tick_history WHERE (symbol_id, time_msc, seq) IN (
                SELECT symbol_id, time_msc, seq FROM tick_history WHERE symbol_id = (SELECT id FROM tick_symbols WHERE name = 'GBPUSD') LIMIT 1)
            """, database: name)
        let run = try migrate(cli, url: url)
        #expect(run.status == 1)
        #expect(run.stderr.contains("error: the stores differ for GBPUSD"), "\(run.stderr)")
        let rows = run.stdout.split(separator: "\n").filter { $0.hasPrefix("GBPUSD ") || $0.hasPrefix("EURUSD ") }
        #expect(rows.count == 2 && rows.contains { $0.hasPrefix("GBPUSD") && $0.hasSuffix("DIFFERS") } && rows.contains { $0.hasPrefix("EURUSD") && $0.hasSuffix("ok") }, "\(run.stdout)")
        #expect(!run.stdout.contains("migrated:"))

        try await server.sql("UPDATE tick_bars SET ticks = ticks + 1 WHERE ctid = (SELECT ctid FROM tick_bars LIMIT 1)", database: name)
        try await server.sql("DELETE FROM tick_bars WHERE ctid = (SELECT ctid FROM tick_bars WHERE symbol_id = (SELECT id FROM tick_symbols WHERE name = 'USDJPY') LIMIT 1)", database: name)
        let bars = try migrate(cli, url: url)
        #expect(bars.status == 1 && bars.stderr.contains("GBPUSD, USDJPY"), "\(bars.stderr)")
    }

    @Test func saysWhatIsMissingAndNeverThePassword() async throws {
        let server = try await PostgresServer.shared()
        let cli = try CLIHarness()
        defer { cli.remove() }
        let url = try await server.makeDatabase()

        let noStore = try migrate(cli, url: url)
        #expect(noStore.status == 1)
        #expect(noStore.stderr.contains("error: no SQLite tick store at var/ticks.db"), "\(noStore.stderr)")

        try FileManager.default.createDirectory(atPath: cli.path("var"), withIntermediateDirectories: true)
        _ = try await Self.makeStore(at: cli.path("var/ticks.db"))
        let unset = try cli.finish(try cli.start(["store", "migrate", "--to", "postgresql", "--url-env", "TICKS_PG_URL"], environment: ["TICKS_PG_URL": ""]))
        #expect(unset.status == 1)
        #expect(unset.stderr.contains("error: TICKS_PG_URL is not set: export TICKS_PG_URL=postgresql://"), "\(unset.stderr)")

        let wrong = try migrate(cli, url: server.url(database: Self.database(of: url), password: "not-the-Secret-42"))
        #expect(wrong.status == 1)
        #expect(wrong.stderr.contains("28P01") && wrong.stderr.contains("runbook:***@"), "\(wrong.stderr)")
        #expect(!(wrong.stdout + wrong.stderr).contains("not-the-Secret-42"))

        let to = try cli.finish(try cli.start(["store", "migrate", "--to", "sqlite"], environment: ["RUNBOOK_STORE_URL": url]))
        #expect(to.status == 2 && to.stderr.contains("write --to postgresql"), "\(to.stderr)")

        // A store that holds ticks of its own is not copied into.
        let busy = try await PostgresTickStore.open(url: PostgresURL(url))
        try await busy.apply(TickBatch(id: 1, ticks: [Tick(symbol: "EURUSD", timeMsc: 1_800_000_000_000, bid: 1.1, ask: 1.1002)]))
        busy.close()
        let held = try migrate(cli, url: url)
        #expect(held.status == 1 && held.stderr.contains("already holds ticks"), "\(held.stderr)")
        #expect(!(held.stdout + held.stderr).contains(PostgresServer.password))
    }
}
