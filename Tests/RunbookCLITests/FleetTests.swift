import Foundation
import RunbookTestSupport
import Testing

/// Engines sharing PostgreSQL records: one leads by a lease, the others stand by; when the leader
/// is killed, a standby takes the schedule over from the marks the records hold.
@Suite struct FleetTests {
    /// One engine of a fleet: its own folder and ports, the shared records.
    struct Member {
        let name: String
        let cli: CLIHarness
        let ports = EnginePorts()
        var process: (Process, URL, URL)?

        init(_ name: String, ttl: String, files: [String: String], config extra: String = "") throws {
            self.name = name
            cli = try CLIHarness()
            try cli.write("runbook.yaml", ports.config(queue: cli.path("queue.ipc")) + "\nrecords: {backend: postgresql}\nengine: {name: \(name), lease_ttl: \(ttl)}\n" + extra)
            for (file, text) in files { try cli.write(file, text) }
        }

        mutating func start(_ environment: [String: String]) throws {
            process = try cli.start(["up", "--log-format", "text"], environment: environment)
        }
    }

    static let files = [
        "Runbooks/note.yaml": "name: note\nsteps:\n  - id: say\n    log: noted\n",
        // Queued behind a run still going: under load a run can take longer than 2 s, and with
        // the default overlap (skip) its next fire would be skipped on purpose.
        "Schedules/beat.yaml": "name: beat\nrunbook: note\nevery: 2s\ncatch_up: all\noverlap: queue\n",
        "Runbooks/long.yaml": "name: long\nsteps:\n  - id: settle\n    shell: sleep 60\n",
        "Schedules/long.yaml": "name: long\nrunbook: long\nevery: 2s\ncatch_up: none\n",
        "Checks/engine-heartbeat.yaml": "name: engine-heartbeat\nprobe: {engine_heartbeat: {}}\ncritical: \"> 5s\"\ninterval: 1s\nscope: shared\n",
    ]

    func fleet(_ cli: CLIHarness, _ environment: [String: String]) -> [[String: Any]] {
        (try? cli.finish(try cli.start(["fleet", "--json"], environment: environment)).json["engines"] as? [[String: Any]]) ?? []
    }

    func leader(_ cli: CLIHarness, _ environment: [String: String]) -> String? {
        fleet(cli, environment).first { $0["role"] as? String == "leader" }?["name"] as? String
    }

    /// The scheduled runs of `beat`, oldest first: (engine, due time, started).
    func beats(_ server: PostgresServer, _ database: String) async throws -> [(engine: String, due: Double, started: Double)] {
        let rows = try await server.sql(
            "SELECT engine, extract(epoch FROM due_at), extract(epoch FROM started_at) FROM runs WHERE trigger_source = 'beat' ORDER BY due_at, id", database: database
        )
        return rows.split(separator: "\n").map { line in
            let fields = line.split(separator: "|")
            return (String(fields[0]), Double(fields[1])!, Double(fields[2])!)
        }
    }

    @Test func aStandbyTakesTheScheduleOverWhenTheLeaderIsKilledAndEveryFireRunsOnce() async throws {
        let server = try await PostgresServer.shared()
        let url = try await server.makeDatabase()
        let database = String(url.split(separator: "/").last!)
        let environment = ["RUNBOOK_RECORDS_URL": url]
        var a = try Member("engine-a", ttl: "3s", files: Self.files)
        var b = try Member("engine-b", ttl: "3s", files: Self.files)
        defer {
            for member in [a, b] {
                if let process = member.process?.0, process.isRunning { kill(process.processIdentifier, SIGKILL) }
                member.cli.remove()
            }
        }
        try a.start(environment)
        #expect(await eventually(within: .seconds(20)) { leader(a.cli, environment) == "engine-a" }, "the first engine leads")
        try b.start(environment)
        #expect(await eventually(within: .seconds(20)) { fleet(a.cli, environment).count == 2 })
        #expect(fleet(a.cli, environment).map { "\($0["name"]!):\($0["role"]!)" } == ["engine-a:leader", "engine-b:standby"])
        #expect(await eventually(within: .seconds(20)) { (try? await beats(server, database).count) ?? 0 >= 3 }, "the leader runs the schedule")

        // Killed at a moment of the 2-second cycle the test does not choose.
        try await Task.sleep(for: .milliseconds(Int.random(in: 0..<2000)))
        kill(a.process!.0.processIdentifier, SIGKILL)
        let killedAt = Date().timeIntervalSince1970
        #expect(await eventually(within: .seconds(15)) { (try? await beats(server, database).contains { $0.engine == "engine-b" }) == true }, "the standby runs the schedule")
        #expect(await eventually(within: .seconds(10)) { (try? await beats(server, database).filter { $0.engine == "engine-b" }.count) ?? 0 >= 3 })
        let runs = try await beats(server, database)
        let takeover = try #require(runs.filter { $0.engine == "engine-b" }.map(\.started).min()) - killedAt
        // The lease (3s) runs out at most 3s after the kill; the standby tries every second.
        #expect(takeover < 3 + 1 + 1, "took over \(takeover)s after the kill")
        // Every 2-second fire from the first to the last ran, and ran once.
        let due = runs.map(\.due)
        #expect(Set(due).count == due.count, "no fire ran twice: \(due)")
        let expected = Array(stride(from: due.first!, through: due.last!, by: 2))
        #expect(due == expected, "no fire missed: \(due)")
        #expect(leader(b.cli, environment) == "engine-b")
        let dead = fleet(b.cli, environment).first { $0["name"] as? String == "engine-a" }
        #expect(dead?["alive"] as? Bool == false)
        // The survivor raises the dead engine as an incident of the fleet...
        #expect(await eventually(within: .seconds(20)) {
            let incidents = (try? b.cli.finish(try b.cli.start(["incidents", "--json"], environment: environment)).json["incidents"] as? [[String: Any]]) ?? []
            return incidents.contains { $0["key"] as? String == "check:engine-heartbeat:engine-a" }
        }, "engine-a's silence is an incident")
        // ...and marks what the dead engine left running as interrupted.
        #expect(await eventually(within: .seconds(10)) {
            (try? await server.sql("SELECT count(*) FROM runs WHERE engine = 'engine-a' AND status = 'running'", database: database)) == "0"
        })
        let interrupted = try await server.sql("SELECT error FROM runs WHERE engine = 'engine-a' AND status = 'interrupted'", database: database)
        #expect(interrupted.contains("interrupted: engine engine-a stopped beating while step 'settle' was in flight"), "\(interrupted)")
        // The survivor's dashboard, in headless Chromium, shows who leads and who is silent.
        let dom = try DashboardBrowserTests.dom("http://127.0.0.1:\(b.ports.http)/", profile: b.cli.folder.appendingPathComponent("chromium"))
        #expect(dom.contains(#"data-engine="engine-b" data-role="leader" data-status="healthy""#), "\(dom.prefix(3000))")
        #expect(dom.contains(#"data-engine="engine-a" data-role="standby" data-status="critical""#))
        print("fleet failover: took over \(String(format: "%.2f", takeover)) s after kill -9 (lease_ttl 3s)")
        kill(b.process!.0.processIdentifier, SIGTERM)
        #expect(try b.cli.finish(b.process!).status == 0)
    }

    @Test func theLeaderKilledAtTwentyRandomMomentsHandsTheScheduleOverEveryTime() async throws {
        let server = try await PostgresServer.shared()
        let url = try await server.makeDatabase()
        let database = String(url.split(separator: "/").last!)
        // Every fire also sends a Telegram message, through the outbox the leader delivers.
        let telegram = try Peer(script: EscalationTests.botAPI)
        let environment = ["RUNBOOK_RECORDS_URL": url, "TEST_BOT_TOKEN": EscalationTests.token]
        let files = [
            "Runbooks/note.yaml": "name: note\nsteps:\n  - id: say\n    log: noted\n  - id: tell\n    notify: {channels: [ops-telegram], message: \"${{ 'beat-' + run.id }}\"}\n",
            "Schedules/beat.yaml": Self.files["Schedules/beat.yaml"]!,
            // An incident of the fleet that climbs while the leaders are killed.
            "Checks/unreachable.yaml": "name: unreachable\nprobe: {port: 1}\ninterval: 1s\nscope: shared\nhysteresis: {fail: 1}\n",
        ]
        let channel = """
            channels:
              ops-telegram: {type: telegram, chat_id: "42", base_url: "http://127.0.0.1:\(telegram.port)/ok", token_env: TEST_BOT_TOKEN}
            escalation:
              levels:
                2: {channels: [ops-telegram], climb_after: 9s}
                3: {channels: [ops-telegram]}
              retry: {min: 200ms, max: 1s}

            """
        var members = try ["engine-a", "engine-b", "engine-c"].map { try Member($0, ttl: "3s", files: files, config: channel) }
        defer {
            for member in members {
                if let process = member.process?.0, process.isRunning { kill(process.processIdentifier, SIGKILL) }
                member.cli.remove()
            }
        }
        for index in members.indices { try members[index].start(environment) }
        let cli = members[0].cli
        #expect(await eventually(within: .seconds(20)) { fleet(cli, environment).filter { $0["alive"] as? Bool == true }.count == 3 && leader(cli, environment) != nil })
        var takeovers: [Double] = []
        for _ in 0..<20 {
            guard let name = await leaderNow(cli, environment), let index = members.firstIndex(where: { $0.name == name }) else {
                Issue.record("no leader to kill")
                break
            }
            try await Task.sleep(for: .milliseconds(Int.random(in: 0..<2000)))
            kill(members[index].process!.0.processIdentifier, SIGKILL)
            members[index].process!.0.waitUntilExit()
            let killedAt = Date().timeIntervalSince1970
            // The first fire another engine runs after the kill.
            var took: Double?
            _ = await eventually(within: .seconds(15)) {
                took = (try? await beats(server, database))?.filter { $0.engine != name && $0.started > killedAt }.map(\.started).min().map { $0 - killedAt }
                return took != nil
            }
            guard let took else {
                Issue.record("nobody took over from \(name)")
                break
            }
            takeovers.append(took)
            try members[index].start(environment)
        }
        #expect(takeovers.count == 20)
        #expect(takeovers.allSatisfy { $0 < 3 + 1 + 1 }, "each within the lease, a try and the fire's own wait: \(takeovers)")
        let due = try await beats(server, database).map(\.due)
        #expect(Set(due).count == due.count, "no fire ran twice")
        #expect(due == Array(stride(from: due.first!, through: due.last!, by: 2)), "no fire missed")
        // Every message queued was delivered; a message that arrived twice (the one in flight at a
        // kill) says so on its second arrival.
        #expect(await eventually(within: .seconds(30)) {
            (try? await server.sql("SELECT count(*) FROM outbox WHERE state != 'delivered'", database: database)) == "0"
        }, "the outbox is delivered")
        let queued = try await server.sql("SELECT substring(body from 'beat-[0-9]+') FROM outbox ORDER BY id", database: database).split(separator: "\n").map(String.init)
        let arrived = telegram.received.map { Peer.json($0)["text"] as? String ?? "" }
        let bodies = arrived.map { text in text.firstMatch(of: /beat-[0-9]+/).map { String($0.output) } ?? text }
        #expect(queued.count >= 20, "a message for each fire: \(queued.count)")
        #expect(queued.allSatisfy { body in bodies.contains(body) }, "every queued message arrived")
        // The fleet's incident climbed each level once, whichever engine led.
        let levels = try await server.sql(
            "SELECT o.level, count(*) FROM outbox o JOIN incidents i ON i.id = o.incident_id WHERE i.key LIKE 'check:unreachable%' GROUP BY o.level ORDER BY o.level",
            database: database
        )
        #expect(levels == "2|1\n3|1", "one message per level: \(levels)")
        #expect(try await server.sql("SELECT count(*) FROM incidents WHERE key LIKE 'check:unreachable%'", database: database) == "1")
        var seen = Set<String>()
        var duplicates = 0
        for (text, body) in zip(arrived, bodies) where !seen.insert(body).inserted {
            duplicates += 1
            #expect(text.contains("possible duplicate: "), "a second copy is marked: \(text)")
        }
        let sorted = takeovers.sorted()
        print("fleet outbox, 20 kills: \(queued.count) fire messages queued, \(arrived.count) messages arrived with the incident's two levels, \(duplicates) marked duplicates")
        print(String(format: "fleet failover, 20 kills: median %.2f s, max %.2f s (lease_ttl 3s): %@", sorted[sorted.count / 2], sorted.last ?? 0, sorted.map { String(format: "%.2f", $0) }.joined(separator: " ")))
    }

    /// The leader, once one leads.
    func leaderNow(_ cli: CLIHarness, _ environment: [String: String]) async -> String? {
        var found: String?
        _ = await eventually(within: .seconds(15)) {
            found = leader(cli, environment)
            return found != nil
        }
        return found
    }
}
