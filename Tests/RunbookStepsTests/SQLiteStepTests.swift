import Foundation
import GRDB
import RunbookModel
import RunbookSQLite
import RunbookSteps
import Testing

@Suite struct SQLStepTests {
    func database(_ harness: StepHarness) throws -> String {
        let path = harness.path("trades.db")
        let queue = try DatabaseQueue(path: path)
        try queue.write { db in
            try db.execute(sql: "CREATE TABLE trades (symbol TEXT, pnl REAL)")
            try db.execute(sql: "INSERT INTO trades VALUES ('EURUSD', 28.0), ('EURUSD', -10.5), ('GBPUSD', 4.0)")
        }
        return path
    }

    @Test func boundParametersAndRowsAsOutputs() async throws {
        let harness = try StepHarness()
        defer { harness.remove() }
        _ = try database(harness)
        let sql = try harness.primitive("sql", """
            database: trades.db
            query: SELECT count(*) AS trades, sum(pnl) AS pnl FROM trades WHERE symbol = ?
            bind: ["EURUSD"]
            expect_rows: 1
            """)
        let result = try await sql.run(in: harness.context())
        #expect(result.outputs["trades"] == .number(2))
        #expect(result.outputs["pnl"] == .number(17.5))
        #expect(result.outputs["value"] == .number(2))
        #expect(result.outputs["count"] == .number(1))
    }

    @Test func boundValuesAreNeverRunAsSQL() async throws {
        let harness = try StepHarness()
        defer { harness.remove() }
        _ = try database(harness)
        let sql = try harness.primitive("sql", "database: trades.db\nquery: SELECT count(*) FROM trades WHERE symbol = ?\nbind: [\"x'; DROP TABLE trades; --\"]\nexpect_value: 0")
        _ = try await sql.run(in: harness.context())
        let left = try await harness.primitive("sql", "database: trades.db\nquery: SELECT count(*) FROM trades\nexpect_value: 3").run(in: harness.context())
        #expect(left.outputs["value"] == .number(3))
    }

    @Test func failedAssertionsSayWhatWasExpected() async throws {
        let harness = try StepHarness()
        defer { harness.remove() }
        _ = try database(harness)
        let failure = await #expect(throws: StepFailure.self) {
            try await harness.primitive("sql", "database: trades.db\nquery: SELECT * FROM trades\nmax_rows: 2").run(in: harness.context())
        }
        #expect(failure?.message == "expected at most 2 row(s), got 3")
        let missing = await #expect(throws: StepFailure.self) {
            try await harness.primitive("sql", "database: nope.db\nquery: SELECT 1").run(in: harness.context())
        }
        #expect(missing?.message.contains("does not exist") == true)
        #expect(!harness.exists("nope.db"))
        let broken = await #expect(throws: StepFailure.self) {
            try await harness.primitive("sql", "database: trades.db\nquery: SELECT * FROM trade").run(in: harness.context())
        }
        #expect(broken?.message.contains("no such table: trade") == true)
    }
}

@Suite struct BackupStepTests {
    @Test func backupsOfOneDatabaseAreToldFromAnother() {
        #expect(BackupStep.isBackup("app-20261121-080000.db", of: "app"))
        #expect(BackupStep.isBackup("app-20261121-080000-2.db", of: "app"))
        #expect(!BackupStep.isBackup("app-2-20261121-080000.db", of: "app"))
        #expect(BackupStep.isBackup("app-2-20261121-080000.db", of: "app-2"))
        #expect(!BackupStep.isBackup("app-notes.db", of: "app"))
    }

    @Test func backupsAreCompleteAndOnlyTheNewestAreKept() async throws {
        let harness = try StepHarness()
        defer { harness.remove() }
        try FileManager.default.createDirectory(atPath: harness.path("data"), withIntermediateDirectories: true)
        let source = try DatabaseQueue(path: harness.path("data/app.db"))
        try await source.write { db in
            try db.execute(sql: "CREATE TABLE ticks (n INTEGER)")
            for n in 0..<500 { try db.execute(sql: "INSERT INTO ticks VALUES (?)", arguments: [n]) }
        }
        let backup = try harness.primitive("backup", "database: data/*.db\nto: backups\nkeep: 2")
        var made: [String] = []
        for _ in 0..<3 {
            made.append(try await backup.run(in: harness.context()).outputs["backups"]!.text)
        }
        let kept = try FileManager.default.contentsOfDirectory(atPath: harness.path("backups")).sorted()
        #expect(kept.count == 2)
        #expect(!FileManager.default.fileExists(atPath: made[0]))
        #expect(FileManager.default.fileExists(atPath: made[2]))
        let copy = try DatabaseQueue(path: made[2])
        #expect(try await copy.read { try Int.fetchOne($0, sql: "SELECT sum(n) FROM ticks") } == 124_750)
        // Only the engine's user may read a backup, whatever the umask.
        let mode = try FileManager.default.attributesOfItem(atPath: made[2])[.posixPermissions] as? Int
        #expect(mode == 0o600, "mode \(String(mode ?? 0, radix: 8))")
    }
}
