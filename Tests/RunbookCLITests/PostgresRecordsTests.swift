import Foundation
import RunbookTestSupport
import Testing

/// The records on PostgreSQL, as an operator runs them: `records: {backend: postgresql}` in the
/// configuration, the URL only in the environment; the engine, its checks and the commands read
/// and write them there, under the engine's name, and no SQLite records file is made.
@Suite struct PostgresRecordsTests {
    func config(_ ports: EnginePorts, _ cli: CLIHarness, engine: String) -> String {
        ports.config(queue: cli.path("queue.ipc")) + "\nrecords: {backend: postgresql}\nengine: {name: \(engine)}\n"
    }

    @Test func anEngineKeepsItsRunsFlowsAndScheduleOnPostgreSQLUnderItsName() async throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        let server = try await PostgresServer.shared()
        let url = try await server.makeDatabase()
        let database = String(url.split(separator: "/").last!)
        let environment = ["RUNBOOK_RECORDS_URL": url]
        var outputs: [String] = []
        func run(_ arguments: String...) throws -> CLIHarness.Result {
            let result = try cli.finish(try cli.start(arguments, environment: environment))
            outputs += [result.stdout, result.stderr]
            return result
        }
        let ports = EnginePorts()
        try cli.write("runbook.yaml", config(ports, cli, engine: "trade-01"))
        try cli.write("Runbooks/note.yaml", "name: note\nsteps:\n  - id: say\n    log: noted\n")
        try cli.write("Schedules/every-minute.yaml", "name: every-minute\nrunbook: note\ncron: '* * * * *'\n")
        try cli.write("Checks/ea-heartbeat.yaml", try String(contentsOf: CLIHarness.shippedRunbooks.deletingLastPathComponent().appendingPathComponent("Checks/ea-heartbeat.yaml"), encoding: .utf8))
        #expect(try run("run", "note").status == 0)
        // The last engine handled every-minute ten minutes ago, then stopped.
        _ = try await server.sql(
            "INSERT INTO schedule_state VALUES ('every-minute', date_trunc('minute', now()) - interval '10 minutes', now())", database: database
        )

        let engine = try cli.start(["up", "--log-format", "text", "--simulate", "--tick-rate", "50"], environment: environment)
        #expect(await eventually { FileManager.default.fileExists(atPath: cli.path("var/engine-state.json")) })
        // The schedule's missed minute is caught up from the mark the records hold.
        #expect(await eventually(within: .seconds(30)) {
            let runs = (try? run("history", "--json").json["runs"] as? [[String: Any]]) ?? []
            return runs.contains { $0["trigger_source"] as? String == "every-minute" && $0["status"] as? String == "succeeded" && $0["engine"] as? String == "trade-01" }
        })
        let fire = try run("fire", "--target", "ea-01", "--symbol", "EURUSD", "--direction", "BUY", "--lot", "0.1")
        #expect(fire.status == 0, "\(fire.stderr)")
        let id = fire.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(await eventually(within: .seconds(20)) {
            let status = (try? await server.sql("SELECT status FROM fires WHERE engine = 'trade-01' AND fire_id = '\(id)'", database: database)) ?? ""
            return status == "FILLED" || status == "FAILED"
        })
        // A check run from a shell reads the heartbeats the engine's flows wrote.
        #expect(await eventually(within: .seconds(20)) {
            let checked = (try? run("check", "ea-heartbeat", "--json").stdout) ?? ""
            return checked.contains("\"status\" : \"healthy\"") || checked.contains("\"status\":\"healthy\"")
        })
        #expect(await eventually(within: .seconds(30)) {
            (try? await server.sql("SELECT count(*) > 0 FROM signals WHERE engine = 'trade-01'", database: database)) == "t"
        }, "the simulated signals recorded")
        kill(engine.0.processIdentifier, SIGTERM)
        let stopped = try cli.finish(engine)
        outputs += [stopped.stdout, stopped.stderr]
        #expect(stopped.status == 0, "\(stopped.stderr)")

        let table = try run("history")
        #expect(table.stdout.contains("ENGINE"), "\(table.stdout)")
        #expect(table.stdout.contains("trade-01"))
        #expect(try await server.sql("SELECT count(*) > 0 FROM ea_instances WHERE engine = 'trade-01'", database: database) == "t")
        #expect(!FileManager.default.fileExists(atPath: cli.path("var/runbook.db")), "no SQLite records beside PostgreSQL's")
        for output in outputs { #expect(!output.contains(PostgresServer.password), "\(output)") }
    }

    @Test func aRunLeftRunningByAKilledEngineIsMarkedInterruptedByThatEngineOnly() async throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        let server = try await PostgresServer.shared()
        let url = try await server.makeDatabase()
        let environment = ["RUNBOOK_RECORDS_URL": url]
        try cli.write("runbook.yaml", "records: {backend: postgresql}\nengine: {name: trade-01}\n")
        try cli.write("other.yaml", "records: {backend: postgresql}\nengine: {name: trade-02}\n")
        try cli.write("Runbooks/slow.yaml", "name: slow\nsteps:\n  - id: wait_for_broker\n    shell: sleep 30\n")
        let running = try cli.start(["run", "slow"], environment: environment)
        func slow(_ config: String) throws -> [String: Any]? {
            let runs = try cli.finish(try cli.start(["history", "--json", "--config", config], environment: environment)).json["runs"] as? [[String: Any]]
            return runs?.first { $0["runbook"] as? String == "slow" }
        }
        #expect(await eventually { (try? await PostgresServer.shared().sql("SELECT count(*) FROM step_attempts WHERE status = 'running'", database: String(url.split(separator: "/").last!))) == "1" })
        kill(running.0.processIdentifier, SIGKILL)
        running.0.waitUntilExit()
        // Another engine sharing the records cannot tell whether trade-01's process is alive: it leaves the run alone.
        #expect(try slow(cli.path("other.yaml"))?["status"] as? String == "running")
        let marked = try slow(cli.path("runbook.yaml"))
        #expect(marked?["status"] as? String == "interrupted")
        #expect((marked?["error"] as? String)?.contains("while step 'wait_for_broker' was in flight") == true, "\(String(describing: marked))")
    }

    @Test func recordsOnPostgreSQLWithoutTheirURLOrWithAWrongPasswordSayWhatToDo() async throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        let server = try await PostgresServer.shared()
        let url = try await server.makeDatabase()
        try cli.write("runbook.yaml", "records: {backend: postgresql}\n")
        let unset = try cli.run("history")
        #expect(unset.status != 0)
        #expect(unset.stderr.contains("records.backend is postgresql but RUNBOOK_RECORDS_URL is not set"), "\(unset.stderr)")
        let wrong = url.replacingOccurrences(of: PostgresServer.password, with: "Wrong-Pa55word")
        let refused = try cli.finish(try cli.start(["history"], environment: ["RUNBOOK_RECORDS_URL": wrong]))
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("cannot open the records"), "\(refused.stderr)")
        #expect(refused.stderr.contains("check the user and password in the URL"), "\(refused.stderr)")
        #expect(refused.stderr.contains("(the URL is from RUNBOOK_RECORDS_URL)"))
        #expect(!refused.stderr.contains("Wrong-Pa55word"))
    }
}
