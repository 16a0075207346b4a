import Foundation
import RunbookPostgres
import RunbookStore
import RunbookTestSupport
import Testing

/// The commands and shipped runbooks on a PostgreSQL tick store, as an operator runs them: the
/// same files as on the embedded store, the URL only in the environment, its password nowhere.
@Suite struct PostgresStoreCommandTests {
    @Test func theShippedRunbooksCommandsAndCheckWorkOnPostgreSQLAndNeverShowThePassword() async throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        let server = try await PostgresServer.shared()
        let url = try await server.makeDatabase()
        try cli.write("runbook.yaml", "store: {backend: postgresql, url_env: TICKS_URL}\n")
        try cli.write("Checks/tick-store.yaml", try String(contentsOf: CLIHarness.shippedRunbooks.deletingLastPathComponent().appendingPathComponent("Checks/tick-store.yaml"), encoding: .utf8))
        try cli.write("Runbooks/count.yaml", """
            name: count
            steps:
              - id: ticks
                tick_counts: {since: 1h}
              - id: say
                log: "${{ steps.ticks.outputs.total }} ticks: ${{ steps.ticks.outputs.value }}"
            """)
        let store = try await PostgresTickStore.open(url: PostgresURL(url))
        defer { store.close() }
        let day: Int64 = 86_400_000
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        // Ticks 40, 20 and 1 days old (at noon UTC, each day's within one UTC day), and some in the last hour.
        let noon = now / day * day + day / 2
        var ticks: [Tick] = []
        for age: Int64 in [40, 20, 1] {
            for n in 0..<1000 {
                let bid = 1.08 + Double(n % 50) / 1e5
                ticks.append(Tick(symbol: "EURUSD", timeMsc: noon - age * day + Int64(n) * 1000, bid: bid, ask: bid + 0.0002))
            }
        }
        let recent = (0..<30).map { Tick(symbol: "XAUUSD", timeMsc: now - 600_000 + Int64($0) * 1000, bid: 2400, ask: 2400.3) }
        try await store.apply(TickBatch(id: 1, ticks: ticks + recent))

        let environment = ["TICKS_URL": url]
        var outputs: [String] = []
        func run(_ arguments: String...) throws -> CLIHarness.Result {
            let result = try cli.finish(try cli.start(arguments, environment: environment))
            outputs += [result.stdout, result.stderr]
            return result
        }

        let counted = try run("run", "count")
        #expect(counted.status == 0, "\(counted.stdout)\(counted.stderr)")
        let shown = try run("show", "1")
        #expect(shown.stdout.contains("30 ticks: XAUUSD: 30"), "\(shown.stdout)")

        let policy = try run("run", "compression-policy", "--runbooks", CLIHarness.shippedRunbooks.path, "--param", "keep_for=30d", "--json")
        #expect(policy.status == 0, "\(policy.stdout)\(policy.stderr)")
        #expect(try await store.ticks(symbol: "EURUSD", from: nil, to: nil, limit: nil) == Array(ticks[1000...]), "the 40-day-old ticks dropped, the rest kept")
        let stats = try run("store", "stats", "--json").json
        #expect(stats["packed_ticks"] as? Int == 1000, "the 20-day-old ticks packed: \(stats)")
        #expect(stats["history_rows"] as? Int == 1030)

        let listed = try run("ticks", "EURUSD", "--json", "--limit", "5000").json
        #expect((listed["ticks"] as? [Any])?.count == 2000, "packed and unpacked read alike")
        let bars = try run("bars", "EURUSD", "MN", "--json").json
        #expect((bars["bars"] as? [[String: Any]])?.compactMap { $0["ticks"] as? Int }.reduce(0, +) == 3000, "bars are kept")

        let check = try run("check", "tick-store")
        #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
        #expect(check.stdout.contains("answers, sound"), "\(check.stdout)")

        for output in outputs { #expect(!output.contains(PostgresServer.password)) }

        // A refused password: a clear error naming the URL without it, exit 1.
        let wrong = url.replacingOccurrences(of: PostgresServer.password, with: "Wrong-Pa55word")
        let refused = try cli.finish(try cli.start(["ticks", "EURUSD"], environment: ["TICKS_URL": wrong]))
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("password authentication failed"), "\(refused.stderr)")
        #expect(refused.stderr.contains("TICKS_URL"), "\(refused.stderr)")
        #expect(!refused.stderr.contains("Wrong-Pa55word"))
        let unset = try cli.finish(try cli.start(["ticks", "EURUSD"], environment: ["TICKS_URL": ""]))
        #expect(unset.status == 1)
        #expect(unset.stderr.contains("TICKS_URL is not set"), "\(unset.stderr)")
    }

    @Test func theSQLStepAndProbeQueryPostgreSQLByURLFromTheEnvironment() async throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        let server = try await PostgresServer.shared()
        let url = try await server.makeDatabase()
        let database = String(url.split(separator: "/").last!)
        try await server.sql("CREATE TABLE orders (id integer, status text); INSERT INTO orders VALUES (1, 'open'), (2, 'open'), (3, 'filled')", database: database)
        try cli.write("Runbooks/orders.yaml", """
            name: orders
            steps:
              - id: open
                sql:
                  url_env: ORDERS_URL
                  readonly: true
                  query: "SELECT count(*) AS open, max(id) AS newest FROM orders WHERE status = $1 AND id > $2"
                  bind: [open, "0"]
                  expect_value: "2"
              - id: write
                sql: {url_env: ORDERS_URL, readonly: true, query: "INSERT INTO orders VALUES (4, 'open')"}
                on_failure: continue
              - id: said
                log: "open ${{ steps.open.outputs.value }}"
            """)
        try cli.write("Checks/orders.yaml", "name: orders\nprobe: {sql: {query: \"SELECT avg(id) * 1.5 FROM orders\", url_env: ORDERS_URL}}\ncritical: \"> 5\"\n")
        let environment = ["ORDERS_URL": url]
        let ran = try cli.finish(try cli.start(["run", "orders", "--json"], environment: environment))
        #expect(ran.status == 0, "\(ran.stdout)\(ran.stderr)")
        let steps = (ran.json["steps"] as? [[String: Any]]) ?? []
        #expect(steps.first { $0["id"] as? String == "open" }?["status"] as? String == "succeeded", "\(ran.stdout)")
        let write = steps.first { $0["id"] as? String == "write" }
        #expect(write?["status"] as? String == "failed", "a read-only query refuses to write: \(ran.stdout)")
        #expect((write?["error"] as? String)?.contains("read-only transaction") == true, "\(ran.stdout)")
        #expect(try await server.sql("SELECT count(*) FROM orders", database: database) == "3")

        let check = try cli.finish(try cli.start(["check", "orders"], environment: environment))
        #expect(check.status == 0, "\(check.stdout)\(check.stderr)")
        #expect(check.stdout.contains("3"), "\(check.stdout)")
        let shown = try cli.finish(try cli.start(["show", "1", "--json"], environment: environment))
        for output in [ran.stdout, ran.stderr, check.stdout, check.stderr, shown.stdout] { #expect(!output.contains(PostgresServer.password)) }

        // A URL with a wrong password, given in the file itself: the error and the plan show it masked.
        let wrong = url.replacingOccurrences(of: PostgresServer.password, with: "Wrong-Pa55word")
        try cli.write("Runbooks/literal.yaml", "name: literal\nsteps:\n  - id: q\n    sql: {database: \"\(wrong)\", query: \"SELECT 1\"}\n")
        let refused = try cli.run("run", "literal", "--json")
        #expect(refused.status != 0)
        #expect(refused.stdout.contains("password authentication failed"), "\(refused.stdout)")
        let plan = try cli.run("run", "literal", "--dry-run")
        for output in [refused.stdout, refused.stderr, plan.stdout, plan.stderr] { #expect(!output.contains("Wrong-Pa55word"), "\(output)") }
    }

    @Test func anEngineStartedWhileItsServerIsDownSpoolsThenStoresEveryTickOnce() async throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        let server = try await PostgresServer.start()
        let url = try await server.makeDatabase()
        try await server.stop()
        let ports = EnginePorts()
        try cli.write("runbook.yaml", ports.config(queue: cli.path("queue.ipc")) + "\nstore: {backend: postgresql}\n")
        let environment = ["RUNBOOK_STORE_URL": url]
        let engine = try cli.start(["up", "--log-format", "text", "--simulate", "--tick-rate", "400"], environment: environment)
        #expect(await eventually { FileManager.default.fileExists(atPath: cli.path("var/engine-state.json")) })
        try await Task.sleep(for: .seconds(9))
        try await server.start()
        #expect(await eventually(within: .seconds(30)) {
            let stats = (try? cli.finish(try cli.start(["store", "stats", "--json"], environment: environment)).json) ?? [:]
            return (stats["history_rows"] as? Int ?? 0) > 0 && stats["spool_batches"] as? Int == 0
        })
        kill(engine.0.processIdentifier, SIGTERM)
        let stopped = try cli.finish(engine)
        #expect(stopped.status == 0, "\(stopped.stderr)")
        #expect(stopped.stderr.contains("ticks go to the spool until it answers"), "\(stopped.stderr)")
        #expect(!stopped.stderr.contains(PostgresServer.password))
        let sentLine = try #require(stopped.stderr.split(separator: "\n").first { $0.contains("simulator stopping: sent ") })
        let sent = Int(sentLine.split(separator: "sent ")[1].split(separator: " ")[0]) ?? 0
        #expect(sent > 3000)
        let stats = try cli.finish(try cli.start(["store", "stats", "--json"], environment: environment)).json
        #expect(stats["history_rows"] as? Int == sent, "every tick sent stored once: \(stats)")
        let database = String(url.split(separator: "/").last!)
        #expect(try await server.sql("SELECT count(*) FROM (SELECT symbol_id, time_msc, bid FROM tick_history GROUP BY 1, 2, 3 HAVING count(*) > 1) d", database: database) == "0", "no tick twice")
        let bars = try cli.finish(try cli.start(["bars", "EURUSD", "MN", "--json"], environment: environment)).json["bars"] as? [[String: Any]] ?? []
        let history = try cli.finish(try cli.start(["ticks", "EURUSD", "--limit", "100000", "--json"], environment: environment)).json["ticks"] as? [Any] ?? []
        #expect(!history.isEmpty)
        #expect(bars.map { $0["ticks"] as? Int ?? 0 }.reduce(0, +) == history.count)
    }
}
