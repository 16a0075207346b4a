import Foundation
import GRDB
import RunbookSQLite
import RunbookStore
import Testing

@Suite struct WeeklyArchiveTests {
    func file(_ cli: CLIHarness, _ name: String, bytes: Int, daysOld: Double) throws -> Data {
        let data = Data((0..<bytes).map { UInt8(truncatingIfNeeded: ($0 * 7 + name.count) % 251) })
        try cli.write(name, "")
        try data.write(to: URL(fileURLWithPath: cli.path(name)))
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(-daysOld * 86_400)], ofItemAtPath: cli.path(name))
        return data
    }

    @Test func archivesExactlyTheRightFilesAndTheArchiveRestoresThem() async throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        let old = try file(cli, "var/tracking/signals-old.jsonl", bytes: 40_000, daysOld: 10)
        let big = try file(cli, "var/tracking/ticks-big.jsonl", bytes: 2_500_000, daysOld: 0.01)
        _ = try file(cli, "var/tracking/fires-today.jsonl", bytes: 40_000, daysOld: 0.01)
        _ = try file(cli, "var/tracking/notes.txt", bytes: 100, daysOld: 30)
        _ = try file(cli, "var/logs/engine.log.1", bytes: 100, daysOld: 20)
        _ = try file(cli, "var/logs/engine.log", bytes: 100, daysOld: 1)
        let database = try DatabaseQueue(path: cli.path("var/trades.db"))
        try await database.write { db in
            try db.execute(sql: "CREATE TABLE fires (id TEXT)")
            try db.execute(sql: "INSERT INTO fires VALUES ('F1'), ('F2')")
        }
        try database.close()

        let run = try cli.run("run", "weekly-archive", "--runbooks", CLIHarness.shippedRunbooks.path, "--param", "max_size=1MB")
        #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)")

        let tracking = try FileManager.default.contentsOfDirectory(atPath: cli.path("var/tracking")).sorted()
        #expect(tracking == ["fires-today.jsonl", "notes.txt"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: cli.path("var/logs")) == ["engine.log"])

        let archives = try FileManager.default.contentsOfDirectory(atPath: cli.path("var/archive"))
        #expect(archives.count == 1)
        let archive = try #require(archives.first)
        #expect(archive.hasPrefix("tracking-") && archive.hasSuffix(".tar.gz"))
        try FileManager.default.createDirectory(atPath: cli.path("restored"), withIntermediateDirectories: true)
        let tar = Process()
        tar.executableURL = URL(fileURLWithPath: "/bin/tar")
        tar.arguments = ["-xzf", cli.path("var/archive/\(archive)"), "-C", cli.path("restored")]
        try tar.run()
        tar.waitUntilExit()
        #expect(try FileManager.default.contentsOfDirectory(atPath: cli.path("restored")).sorted() == ["signals-old.jsonl", "ticks-big.jsonl"])
        #expect(try Data(contentsOf: URL(fileURLWithPath: cli.path("restored/signals-old.jsonl"))) == old)
        #expect(try Data(contentsOf: URL(fileURLWithPath: cli.path("restored/ticks-big.jsonl"))) == big)

        let backups = try FileManager.default.contentsOfDirectory(atPath: cli.path("var/backups/weekly"))
        let tradesBackup = try #require(backups.first { $0.hasPrefix("trades-") })
        let copy = try DatabaseQueue(path: cli.path("var/backups/weekly/\(tradesBackup)"))
        #expect(try await copy.read { try String.fetchAll($0, sql: "SELECT id FROM fires ORDER BY id") } == ["F1", "F2"])

        let show = try cli.run("show", "1", "--json").json
        #expect((show["steps"] as? [[String: Any]])?.map { $0["status"] as? String } == ["succeeded", "succeeded", "succeeded", "succeeded"])
    }
}

@Suite struct CompressionPolicyRunbookTests {
    @Test func theShippedPolicyPacksOldHistoryAndDropsWhatIsPastRetention() async throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        try FileManager.default.createDirectory(atPath: cli.path("var"), withIntermediateDirectories: true)
        let store = try SQLiteTickStore(path: cli.path("var/ticks.db"))
        let day: Int64 = 86_400_000
        // Noon UTC today: each day's ticks (17 minutes of them) stay within one UTC day, and so
        // within one packed block, whatever the time the test runs at.
        let now = Int64(Date().timeIntervalSince1970 * 1000) / day * day + day / 2
        // Ticks 40, 20 and 1 days old.
        var ticks: [Tick] = []
        for age: Int64 in [40, 20, 1] {
            for n in 0..<1000 {
                let bid = 1.08 + Double(n % 50) / 1e5
                ticks.append(Tick(symbol: "EURUSD", timeMsc: now - age * day + Int64(n) * 1000, bid: bid, ask: bid + 0.0002))
            }
        }
        try await store.storing(TickBatch(id: 1, ticks: ticks))

        // The plan of a store named by its file says what it would do now; the configured store is
        // named as such (it may be a PostgreSQL server the plan does not reach).
        let plan = try cli.run("run", "compression-policy", "--runbooks", CLIHarness.shippedRunbooks.path, "--dry-run", "--param", "keep_for=30d", "--param", "store=var/ticks.db")
        #expect(plan.status == 0)
        #expect(plan.stdout.contains("(now: 2000 ticks into 2 blocks)"), "\(plan.stdout)")
        #expect(plan.stdout.contains("(now: 1000 ticks, 0 blocks)"), "\(plan.stdout)")
        let configured = try cli.run("run", "compression-policy", "--runbooks", CLIHarness.shippedRunbooks.path, "--dry-run", "--param", "keep_for=30d")
        #expect(configured.stdout.contains("pack history older than 7d in the engine's tick store"), "\(configured.stdout)")

        let run = try cli.run("run", "compression-policy", "--runbooks", CLIHarness.shippedRunbooks.path, "--param", "keep_for=30d", "--json")
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        let left = try await store.ticks(symbol: "EURUSD", from: nil, to: nil, limit: nil)
        #expect(left == Array(ticks[1000...]))
        let stats = try cli.run("store", "stats", "--json").json
        #expect(stats["packed_ticks"] as? Int == 1000)
        #expect(stats["history_rows"] as? Int == 1000)
        #expect(try await store.bars(symbol: "EURUSD", timeframe: .mn, from: nil, to: nil).map(\.ticks).reduce(0, +) == 3000)
    }
}
