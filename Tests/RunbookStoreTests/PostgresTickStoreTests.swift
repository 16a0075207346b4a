import Foundation
import Logging
import RunbookPostgres
import RunbookSQLite
import RunbookStore
import RunbookTestSupport
import Testing

/// The PostgreSQL tick store against a real PostgreSQL 15 server the tests start themselves:
/// what it shares with the SQLite store is in the conformance suite; here, what only a server
/// can do to it (go down, refuse a password, lose a partition, refuse a COPY).
@Suite(.serialized) struct PostgresTickStoreTests {
    func open(_ url: String, alignment: BarAlignment = BarAlignment(), patience: Duration = .seconds(10)) async throws -> PostgresTickStore {
        try await PostgresTickStore.open(url: PostgresURL(url), alignment: alignment, patience: patience)
    }

    @Test(arguments: ["UTC", "America/New_York"])
    func barsEqualTheSQLiteStoresOnTheSameTicks(zone: String) async throws {
        let folder = try scratch()
        defer { try? FileManager.default.removeItem(at: folder) }
        let alignment = BarAlignment(timeZone: TimeZone(identifier: zone)!)
        let sqlite = try SQLiteTickStore(path: folder.appendingPathComponent("ticks.db").path, alignment: alignment)
        let postgres = try await open(try await PostgresServer.shared().makeDatabase(), alignment: alignment)
        defer { postgres.close() }
        // Late February to early April: a month boundary, weekends, and New York's spring DST
        // change; batches out of order, so late ticks merge into bars already stored.
        let ticks = simulatedTicks(from: instant("2026-02-25 00:00:00"), days: 40, everySeconds: 373)
        var batches = stride(from: 0, to: ticks.count, by: 700).map { Array(ticks[$0..<min($0 + 700, ticks.count)]) }
        batches.swapAt(1, 5)
        batches.swapAt(10, 3)
        for (index, batch) in batches.enumerated() {
            try await sqlite.storing(TickBatch(id: Int64(index + 1), ticks: batch))
            try await postgres.apply(TickBatch(id: Int64(index + 1), ticks: batch))
        }
        for symbol in ["EURUSD", "XAUUSD"] {
            for timeframe in Timeframe.allCases {
                let bars = try await postgres.bars(symbol: symbol, timeframe: timeframe, from: nil, to: nil)
                #expect(!bars.isEmpty)
                #expect(bars == (try await sqlite.bars(symbol: symbol, timeframe: timeframe, from: nil, to: nil)), "\(symbol) \(timeframe)")
            }
            #expect(try await postgres.ticks(symbol: symbol, from: nil, to: nil, limit: nil) == (try await sqlite.ticks(symbol: symbol, from: nil, to: nil, limit: nil)))
        }
        #expect(try await postgres.current() == (try await sqlite.current()))
    }

    @Test func aRefusedPasswordSaysWhereWithoutThePassword() async throws {
        let server = try await PostgresServer.shared()
        let url = try await server.makeDatabase()
        let wrong = url.replacingOccurrences(of: PostgresServer.password, with: "not-the-Secret-42")
        let error = await #expect(throws: PostgresStoreError.self) { try await open(wrong) }
        let text = "\(error.map { "\($0)" } ?? "")"
        #expect(text.contains("password authentication failed"), "\(text)")
        #expect(text.contains("postgresql://\(PostgresServer.user):***@127.0.0.1:\(server.port)/"), "\(text)")
        #expect(text.contains("check the user and password"), "\(text)")
        #expect(!text.contains("not-the-Secret-42"))
        #expect(String(reflecting: error as Any).contains("not-the-Secret-42") == false)
    }

    @Test func partitionsAreMadeAheadAndADroppedOneIsMadeAgain() async throws {
        let server = try await PostgresServer.shared()
        let url = try await server.makeDatabase()
        let database = String(url.split(separator: "/").last!)
        let store = try await open(url)
        defer { store.close() }
        let today = Int64(Date().timeIntervalSince1970 * 1000) / 86_400_000
        let names = try await server.sql("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'tick_history'::regclass ORDER BY 1", database: database)
        #expect(names.split(separator: "\n").map(String.init) == (today...(today + 2)).map(PostgresTickStore.partitionName(day:)), "today and the two days after it")

        let now = today * 86_400_000 + 3_600_000
        try await store.apply(TickBatch(id: 1, ticks: [Tick(symbol: "EURUSD", timeMsc: now, bid: 1.1, ask: 1.1002)]))
        try await server.sql("DROP TABLE \(PostgresTickStore.partitionName(day: today))", database: database)
        #expect(try await store.apply(TickBatch(id: 2, ticks: [Tick(symbol: "EURUSD", timeMsc: now + 1, bid: 1.2, ask: 1.2002)])))
        #expect(try await store.ticks(symbol: "EURUSD", from: nil, to: nil, limit: nil).map(\.bid) == [1.2], "the dropped day's first tick went with it; the next is stored")
        // A tick of a day long past gets its partition too.
        #expect(try await store.apply(TickBatch(id: 3, ticks: [Tick(symbol: "EURUSD", timeMsc: 86_400_000 * 20_000 + 5, bid: 1.3, ask: 1.3002)])))
        #expect(try await store.ticks(symbol: "EURUSD", from: nil, to: 86_400_000 * 20_001, limit: nil).map(\.bid) == [1.3])
        // Days that are over get their index by symbol and time; today's partition takes ticks without one.
        #expect(try await store.problems().isEmpty)
        let indexes = try await server.sql("SELECT indexname FROM pg_indexes WHERE tablename LIKE 'tick_history_%' ORDER BY 1", database: database)
        #expect(indexes.split(separator: "\n").map(String.init) == ["\(PostgresTickStore.partitionName(day: 20_000))_by_symbol_time"], "\(indexes)")
    }

    @Test func compressionDropsTheEmptiedPartitionsAndRetentionWholeDays() async throws {
        let server = try await PostgresServer.shared()
        let url = try await server.makeDatabase()
        let store = try await open(url)
        defer { store.close() }
        let start = instant("2026-03-02 00:00:00")
        let ticks = simulatedTicks(from: start, days: 6, everySeconds: 61)
        try await store.apply(TickBatch(id: 1, ticks: ticks))
        let before = try await store.stats()
        let report = try await store.compress(olderThan: start + 3 * 86_400_000 + 43_200_000, dryRun: false)
        #expect(report.partitionsDropped == 3, "three whole days packed, the fourth only up to noon")
        let after = try await store.stats()
        #expect(after["partitions"] == before["partitions"]! - 3)
        #expect(after["packed_ticks"] == report.ticks)
        #expect(Double(report.packedBytes) / Double(report.ticks) < 5)
        #expect(try await store.ticks(symbol: "EURUSD", from: nil, to: nil, limit: nil) == ticks.filter { $0.symbol == "EURUSD" })
        let retained = try await store.retain(olderThan: start + 5 * 86_400_000, dryRun: false)
        #expect(retained.partitionsDropped == 2, "the half-packed fourth day and the fifth")
        #expect(try await store.ticks(symbol: "EURUSD", from: nil, to: nil, limit: nil) == ticks.filter { $0.symbol == "EURUSD" && $0.timeMsc >= start + 5 * 86_400_000 })
    }

    func ingest(_ store: any TickStore, spool: String, retryDelays: [Duration]) throws -> TickIngest {
        var settings = TickIngest.Settings()
        settings.retryDelays = retryDelays
        settings.replayEvery = .seconds(1)
        return TickIngest(
            store: store, spool: try TickSpool(path: spool), settings: settings, logger: Logger(label: "test"),
            parse: { bytes in
                let fields = String(decoding: bytes, as: UTF8.self).split(separator: ",")
                return Tick(symbol: String(fields[0]), timeMsc: Int64(fields[1])!, bid: Double(fields[2])!, ask: Double(fields[2])! + 0.0001)
            }
        )
    }

    static let origin: Int64 = 1_780_308_000_000

    /// Feeds `count` ticks at `perSecond`, a few every 10 ms, each 1 ms after the one before.
    func feed(_ ingest: TickIngest, count: Int, perSecond: Int) async throws {
        let each = perSecond / 100
        var sent = 0
        let clock = ContinuousClock()
        let start = clock.now
        while sent < count {
            for n in sent..<min(sent + each, count) {
                let frame = Array("EURUSD,\(Self.origin + Int64(n)),1.\(10_000 + n % 1000)".utf8)
                frame.withUnsafeBytes { ingest.accept($0) }
            }
            sent += each
            try await clock.sleep(until: start + .milliseconds(10 * (sent / each)))
        }
    }

    /// What the store holds, in the order it was stored: every tick exactly once, in order.
    func storedInOrder(_ server: PostgresServer, _ database: String) async throws -> [Int64] {
        try await server.sql("SELECT time_msc FROM tick_history ORDER BY seq", database: database).split(separator: "\n").compactMap { Int64($0) }
    }

    @Test func aServerDownForTenSecondsUnderTwoThousandTicksASecondLosesAndRepeatsNothing() async throws {
        let folder = try scratch()
        defer { try? FileManager.default.removeItem(at: folder) }
        // A server of this test's own, since it is stopped.
        let server = try await PostgresServer.start()
        let url = try await server.makeDatabase()
        let store = try await open(url, patience: .seconds(2))
        defer { store.close() }
        let ingest = try ingest(store, spool: folder.appendingPathComponent("ticks.spool").path, retryDelays: [.seconds(1), .seconds(2), .seconds(4)])
        let running = Task { await ingest.run() }
        let total = 40_000
        let feeding = Task { try await feed(ingest, count: total, perSecond: 2_000) }
        try await Task.sleep(for: .seconds(4))
        try await server.stop()
        try await Task.sleep(for: .seconds(10))
        #expect(ingest.counters.stored < 20_000, "the store was down")
        try await server.start()
        try await feeding.value
        #expect(await eventually(within: .seconds(60)) { ingest.counters.stored == total })
        running.cancel()
        await running.value
        #expect(ingest.counters.dropped == 0)
        let stored = try await storedInOrder(server, String(url.split(separator: "/").last!))
        #expect(stored.count == total)
        #expect(stored.elementsEqual((0..<Int64(total)).lazy.map { Self.origin + $0 }), "every tick once, in the order it arrived")
    }

    @Test func aFailedCopyIsRetriedNotSkipped() async throws {
        let folder = try scratch()
        defer { try? FileManager.default.removeItem(at: folder) }
        let server = try await PostgresServer.shared()
        let url = try await server.makeDatabase()
        let database = String(url.split(separator: "/").last!)
        let store = try await open(url)
        defer { store.close() }
        let ingest = try ingest(store, spool: folder.appendingPathComponent("ticks.spool").path, retryDelays: [.milliseconds(100), .milliseconds(200)])
        let running = Task { await ingest.run() }
        try await feed(ingest, count: 500, perSecond: 1_000)
        #expect(await eventually { ingest.counters.stored == 500 })
        // The server refuses every row for a while: each COPY fails, and its batch is retried,
        // then spooled, then replayed once the rows are accepted again.
        try await server.sql("ALTER TABLE tick_history ADD CONSTRAINT refuse_all CHECK (bid < 0) NOT VALID", database: database)
        let feeding = Task { try await feed(ingest, count: 1_000, perSecond: 1_000) }
        #expect(await eventually { ingest.counters.spooled > 0 })
        try await feeding.value
        #expect(ingest.counters.stored == 500)
        try await server.sql("ALTER TABLE tick_history DROP CONSTRAINT refuse_all", database: database)
        #expect(await eventually { ingest.counters.stored == 1_500 })
        running.cancel()
        await running.value
        let stored = try await storedInOrder(server, database)
        #expect(stored.count == 1_500)
        #expect(stored.elementsEqual((Array(0..<500) + Array(0..<1_000)).map { Self.origin + Int64($0) }), "every tick once, in the order it arrived")
    }

    @Test func theURLIsReadAndShownWithoutItsPassword() throws {
        let url = try PostgresURL("postgresql://trader:s3cr%40t@db.example:6543/ticks?sslmode=require")
        #expect(url.username == "trader")
        #expect(url.password == "s3cr@t")
        #expect(url.port == 6543)
        #expect(url.database == "ticks")
        #expect(url.requireTLS)
        #expect("\(url)" == "postgresql://trader:***@db.example:6543/ticks")
        #expect(PostgresURL.redact("failed: postgres://a:b@c/d and postgresql://x:y@z:1/w") == "failed: postgres://a:***@c/d and postgresql://x:***@z:1/w")
        let error = #expect(throws: PostgresStoreError.self) { try PostgresURL("mysql://root:hunter2@db/ticks") }
        #expect(error?.description.contains("hunter2") == false)
        #expect(error?.description.contains("postgresql://USER:PASSWORD@HOST:PORT/DATABASE") == true)
    }

    @Test func aRestartWhileTheServerIsDownNumbersItsBatchesAboveThoseStored() async throws {
        let folder = try scratch()
        defer { try? FileManager.default.removeItem(at: folder) }
        let server = try await PostgresServer.start()
        let url = try await server.makeDatabase()
        let spool = folder.appendingPathComponent("ticks.spool").path
        let first = try ingest(try await open(url), spool: spool, retryDelays: [.milliseconds(100)])
        let running = Task { await first.run() }
        try await feed(first, count: 500, perSecond: 1_000)
        #expect(await eventually { first.counters.stored == 500 })
        running.cancel()
        await running.value

        // The engine starts again while the server is down: it cannot read the last batch applied.
        try await server.stop()
        let second = try ingest(PostgresTickStore.unprepared(url: try PostgresURL(url), patience: .seconds(2)), spool: spool, retryDelays: [.milliseconds(100)])
        let rerunning = Task { await second.run() }
        let more = Task {
            for n in 500..<1_000 {
                Array("EURUSD,\(Self.origin + Int64(n)),1.1".utf8).withUnsafeBytes { second.accept($0) }
                if n % 50 == 0 { try await Task.sleep(for: .milliseconds(20)) }
            }
        }
        try await more.value
        #expect(await eventually { second.counters.spooled == 500 })
        try await server.start()
        #expect(await eventually(within: .seconds(30)) { second.counters.stored == 500 })
        rerunning.cancel()
        await rerunning.value
        #expect(second.counters.dropped == 0)
        let stored = try await storedInOrder(server, String(url.split(separator: "/").last!))
        #expect(stored.count == 1_000, "the batches spooled while the server was down are stored, not taken for replays")
        #expect(stored.elementsEqual((0..<1_000).map { Self.origin + Int64($0) }))
    }

    @Test func enginesSharingATickStoreNumberTheirOwnBatches() async throws {
        let url = try await PostgresServer.shared().makeDatabase()
        let one = try await PostgresTickStore.open(url: PostgresURL(url), writer: "engine-one")
        let two = try await PostgresTickStore.open(url: PostgresURL(url), writer: "engine-two")
        defer { one.close(); two.close() }
        #expect(try await one.apply(TickBatch(id: 50, ticks: [Tick(symbol: "EURUSD", timeMsc: Self.origin, bid: 1.1, ask: 1.1002)])))
        #expect(try await two.apply(TickBatch(id: 1, ticks: [Tick(symbol: "EURUSD", timeMsc: Self.origin + 1, bid: 1.2, ask: 1.2002)])), "another engine's batch 1 is its own")
        #expect(try await two.apply(TickBatch(id: 1, ticks: [Tick(symbol: "EURUSD", timeMsc: Self.origin + 1, bid: 1.2, ask: 1.2002)])) == false)
        #expect(try await one.lastAppliedBatch() == 50)
        #expect(try await two.lastAppliedBatch() == 1)
        #expect(try await one.ticks(symbol: "EURUSD", from: nil, to: nil, limit: nil).map(\.bid) == [1.1, 1.2])
    }

    @Test func aPasswordIsReadAsWrittenAndSSLModesAreLibpqs() throws {
        #expect(try PostgresURL("postgresql://u:p%2541x%40y@h/d").password == "p%41x@y", "decoded once")
        #expect(try PostgresURL("postgresql://u:p@h/d?sslmode=require").tls == .encrypted)
        #expect(try PostgresURL("postgresql://u:p@h/d?sslmode=verify-full").tls == .verifiedHost)
        #expect(try PostgresURL("postgresql://u:p@h/d?sslmode=prefer").tls == PostgresURL.TLSMode.none)
        let error = #expect(throws: PostgresStoreError.self) { try PostgresURL("postgresql://u:Se cret@h:port/d") }
        #expect(error?.description.contains("Se cret") == false)
    }
}
