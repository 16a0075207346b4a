import Foundation
import RunbookTestSupport
import GRDB
import Synchronization
import Testing

/// Ports for one engine: ten apart from the last engine's, below the kernel's ephemeral range
/// (32768 and up) and apart from the ranges other suites use, so parallel tests never collide.
struct EnginePorts {
    private static let next = Mutex(Int.random(in: 2_000..<2_400) * 10)
    let base = EnginePorts.next.withLock { base in
        defer { base = base + 10 < 32_000 ? base + 10 : 20_000 }
        return base
    }

    var ticks: Int { base }
    var telemetryOut: Int { base + 1 }
    var signals: Int { base + 2 }
    var router: Int { base + 3 }
    var confirmations: Int { base + 4 }
    var http: Int { base + 5 }
    /// A free port beside the engine's, for a peer the test starts later (a notification service).
    var spare: Int { base + 6 }

    func config(queue: String) -> String {
        """
        flows:
          telemetry_in: tcp://127.0.0.1:\(ticks)
          telemetry_out: tcp://127.0.0.1:\(telemetryOut)
          signals: tcp://127.0.0.1:\(signals)
          router: tcp://127.0.0.1:\(router)
          confirmations: tcp://127.0.0.1:\(confirmations)
          command_queue: ipc://\(queue)
        restart: {wait: 200ms}
        http: {listen: 127.0.0.1:\(http)}
        """
    }
}

@Suite(.serialized) struct UpCommandTests {
    static let peer = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Peers/ea_peer.py").path

    func startEngine(_ cli: CLIHarness, ports: EnginePorts, extra: [String] = []) async throws -> (Process, URL, URL) {
        try cli.write("runbook.yaml", ports.config(queue: cli.path("queue.ipc")))
        let engine = try cli.start(["up", "--log-format", "text"] + extra)
        #expect(await eventually { FileManager.default.fileExists(atPath: cli.path("var/engine-state.json")) })
        return engine
    }

    @Test func aPyzmqEAExchangesTicksFiresAndConfirmationsWithTheEngine() async throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        let ports = EnginePorts()
        let engine = try await startEngine(cli, ports: ports)

        let peer = Process()
        peer.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        peer.arguments = [
            Self.peer, "tcp://127.0.0.1:\(ports.ticks)", "tcp://127.0.0.1:\(ports.telemetryOut)", "tcp://127.0.0.1:\(ports.router)",
            "tcp://127.0.0.1:\(ports.confirmations)", "ea-py", "500",
        ]
        let output = cli.folder.appendingPathComponent("peer.out")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        peer.standardOutput = try FileHandle(forWritingTo: output)
        try peer.run()
        func events() -> [[String: Any]] {
            ((try? String(contentsOf: output, encoding: .utf8)) ?? "").split(separator: "\n").compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }
        }
        #expect(await eventually { events().contains { $0["event"] as? String == "ready" } })
        let relayed = events().first { $0["event"] as? String == "relayed" }
        #expect(relayed?["count"] as? Int == 500)
        #expect(relayed?["identical"] as? Bool == true)

        let fire = try cli.run("fire", "--target", "ea-py", "--symbol", "EURUSD", "--direction", "BUY", "--lot", "0.1", "--id", "F-py-1")
        #expect(fire.status == 0, "\(fire.stderr)")
        #expect(fire.stdout == "F-py-1\n")
        peer.waitUntilExit()
        #expect(events().contains { $0["event"] as? String == "fire" && $0["fire_id"] as? String == "F-py-1" && $0["lot"] as? Double == 0.1 })

        let records = try DatabaseQueue(path: cli.path("var/runbook.db"))
        #expect(await eventually { (try? records.read { try String.fetchOne($0, sql: "SELECT status FROM fires WHERE fire_id = 'F-py-1'") }) == "FILLED" })
        #expect(await eventually { (try? records.read { try Double.fetchOne($0, sql: "SELECT pnl FROM trades WHERE fire_id = 'F-py-1'") }) == 28.0 })
        // Heartbeats are written about once a second.
        #expect(await eventually { (try? records.read { try String.fetchOne($0, sql: "SELECT account FROM ea_instances WHERE target_uuid = 'ea-py'") }) == "5012345" })

        // The engine writes its state once a second.
        #expect(await eventually {
            let flows = (try? cli.run("flows", "--json").json["services"] as? [[String: Any]]) ?? []
            let bridge = flows.first { $0["name"] as? String == "telemetry-bridge" }
            return (bridge?["ticks_by_symbol"] as? [String: Int])?["EURUSD"] == 500
        })

        kill(engine.0.processIdentifier, SIGTERM)
        let stopped = try cli.finish(engine)
        #expect(stopped.status == 0, "\(stopped.stderr)")
        #expect(stopped.stderr.contains("engine stopped"))
        #expect(!FileManager.default.fileExists(atPath: cli.path("var/engine-state.json")))
    }

    @Test func theEngineCatchesUpAScheduleMissedWhileItWasDown() async throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        try cli.write("Runbooks/note.yaml", "name: note\nsteps:\n  - id: say\n    log: noted\n")
        try cli.write("Schedules/every-minute.yaml", "name: every-minute\nrunbook: note\ncron: '* * * * *'\n")
        try cli.write("Schedules/report.yaml", "name: report\nrunbook: hourly-report\ncron: '0 * * * *'\n")
        try cli.write("Schedules/typo.yaml", "name: typo\nrunbook: note\nparams: {loud: true}\ncron: '* * * * *'\n")
        #expect(try cli.run("run", "note").status == 0)
        // The last engine handled every-minute ten minutes ago, then stopped.
        let records = try DatabaseQueue(path: cli.path("var/runbook.db"))
        try await records.write { db in
            try db.execute(sql: """
                INSERT INTO schedule_state (schedule, handled_through, updated_at)
                VALUES ('every-minute', strftime('%Y-%m-%d %H:%M:00.000', 'now', '-10 minutes'), strftime('%Y-%m-%d %H:%M:%f', 'now'))
                """)
        }
        let engine = try await startEngine(cli, ports: EnginePorts())
        // catch_up: latest runs the latest missed minute once, recorded as the schedule's run of that minute.
        #expect(await eventually {
            let runs = (try? cli.run("history", "--json").json["runs"] as? [[String: Any]]) ?? []
            return runs.contains { $0["trigger"] as? String == "schedule" && $0["trigger_source"] as? String == "every-minute" && $0["status"] as? String == "succeeded" }
        })
        let list = try cli.run("schedule", "list", "--json").json["schedules"] as? [[String: Any]] ?? []
        let everyMinute = list.first { $0["name"] as? String == "every-minute" }
        let lastRun = everyMinute?["last_run"] as? [String: Any]
        #expect(lastRun?["trigger"] as? String == "schedule")
        #expect((lastRun?["due_at"] as? String)?.hasSuffix(":00.000Z") == true)
        #expect(list.first { $0["name"] as? String == "report" }?["runbook_state"] as? String == "missing")
        // A schedule seen for the first time is marked, so that a restart owes it what comes after.
        #expect(await eventually { (try? records.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM schedule_state WHERE schedule = 'report'") }) == 1 })
        kill(engine.0.processIdentifier, SIGTERM)
        let stopped = try cli.finish(engine)
        #expect(stopped.status == 0)
        #expect(stopped.stderr.contains("runbook 'hourly-report' is not in Runbooks or has errors: the schedule's fires will not run"), "\(stopped.stderr)")
        // A schedule whose parameters its runbook does not take is left out, and says why.
        #expect(stopped.stderr.contains("schedule left out: Schedules/typo.yaml:3:9: runbook 'note' has no parameter 'loud'"), "\(stopped.stderr)")
        #expect(try await records.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM schedule_state WHERE schedule = 'typo'") } == 0)
    }

    @Test func everyTickTheSimulatorSentIsInHistoryAfterTheEngineStops() async throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        let engine = try await startEngine(cli, ports: EnginePorts(), extra: ["--simulate", "--tick-rate", "400"])
        try await Task.sleep(for: .seconds(3))
        kill(engine.0.processIdentifier, SIGTERM)
        let stopped = try cli.finish(engine)
        #expect(stopped.status == 0)
        let sentLine = try #require(stopped.stderr.split(separator: "\n").first { $0.contains("simulator stopping: sent ") })
        let sent = Int(sentLine.split(separator: "sent ")[1].split(separator: " ")[0])
        let stats = try cli.run("store", "stats", "--json").json
        #expect((sent ?? 0) > 300)
        #expect(stats["history_rows"] as? Int == sent)
        #expect(stats["spool_batches"] as? Int == 0)
        let bars = try cli.run("bars", "EURUSD", "MN", "--json").json["bars"] as? [[String: Any]] ?? []
        let history = try cli.run("ticks", "EURUSD", "--limit", "100000", "--json").json["ticks"] as? [Any] ?? []
        #expect(bars.map { $0["ticks"] as? Int ?? 0 }.reduce(0, +) == history.count)
    }

    @Test func simulatorsEndWithAnEngineKilledOutright() async throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        let engine = try await startEngine(cli, ports: EnginePorts(), extra: ["--simulate"])
        func simulators() -> [Int32] {
            ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap(Int32.init).filter { pid in
                let command = (try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8)) ?? ""
                return command.contains("sim\u{0}") && command.contains(cli.folder.lastPathComponent) == false && processIsRunning(pid)
                    && (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8))?.split(separator: " ").dropFirst(3).first.map(String.init) == String(engine.0.processIdentifier)
            }
        }
        #expect(await eventually { simulators().count == 2 })
        let children = simulators()
        kill(engine.0.processIdentifier, SIGKILL)
        engine.0.waitUntilExit()
        #expect(await eventually(within: .seconds(5)) { children.allSatisfy { !processIsRunning($0) } })
    }

    @Test func aPortInUseStopsTheStartAndNamesThePort() async throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        let ports = EnginePorts()
        let engine = try await startEngine(cli, ports: ports)
        let second = try cli.run("up", "--log-format", "text")
        #expect(second.status == 1)
        #expect(second.stderr.contains("port \(ports.ticks) is already in use"), "\(second.stderr)")
        #expect(second.stderr.contains("held by pid \(engine.0.processIdentifier)"), "\(second.stderr)")
        kill(engine.0.processIdentifier, SIGTERM)
        #expect(try cli.finish(engine).status == 0)
    }

    @Test func aPortHeldByAnotherProgramIsNamedWithItsHolder() async throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        let ports = EnginePorts()
        try cli.write("runbook.yaml", ports.config(queue: cli.path("queue.ipc")))
        let holder = try PortSquatter(port: ports.confirmations)
        #expect(await eventually { isListening(ports.confirmations) })
        let up = try cli.run("up", "--log-format", "text")
        #expect(up.status == 1)
        #expect(up.stderr.contains("cannot start confirmation-listener"), "\(up.stderr)")
        #expect(up.stderr.contains("port \(ports.confirmations) is already in use"), "\(up.stderr)")
        #expect(up.stderr.contains("held by pid \(holder.pid) (/usr/bin/python3"), "\(up.stderr)")
        #expect(!isListening(ports.ticks))
        withExtendedLifetime(holder) {}
    }

    @Test func aProgramsPortInUseStopsTheStartToo() async throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        let ports = EnginePorts()
        try cli.write("runbook.yaml", ports.config(queue: cli.path("queue.ipc")) + "\nprocesses:\n  - {name: engine, command: /bin/sleep, args: ['300'], ports: [\(ports.signals)]}\n")
        let holder = try PortSquatter(port: ports.signals)
        #expect(await eventually { isListening(ports.signals) })
        let up = try cli.run("up", "--log-format", "text")
        #expect(up.status == 1)
        #expect(up.stderr.contains("cannot start engine: port \(ports.signals) is already in use (held by pid \(holder.pid)"), "\(up.stderr)")
        withExtendedLifetime(holder) {}
    }

    @Test func aFireWithNoEngineRunningIsRefused() throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        try cli.write("runbook.yaml", EnginePorts().config(queue: cli.path("queue.ipc")))
        let fire = try cli.run("fire", "--target", "ea-01", "--symbol", "EURUSD", "--direction", "BUY", "--lot", "0.1")
        #expect(fire.status == 1)
        #expect(fire.stderr.contains("no engine listens on ipc://\(cli.path("queue.ipc"))"))
        #expect(try cli.run("flows").status == 1)
    }

    @Test func theSimulatedEngineShowsRealTraffic() async throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        let ports = EnginePorts()
        let engine = try await startEngine(cli, ports: ports, extra: ["--simulate", "--tick-rate", "200"])
        #expect(await eventually {
            let services = (try? cli.run("flows", "--json").json["services"] as? [[String: Any]]) ?? []
            let received = { (name: String) in services.first { $0["name"] as? String == name }?["received"] as? Int ?? 0 }
            return received("telemetry-bridge") > 100 && received("signal-relay") > 0
        })
        let fire = try cli.run("fire", "--target", "ea-01", "--symbol", "EURUSD", "--direction", "BUY", "--lot", "0.1")
        #expect(fire.status == 0, "\(fire.stderr)")
        let id = fire.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let records = try DatabaseQueue(path: cli.path("var/runbook.db"))
        // The simulated EA fills or (at its failure rate) refuses the fire; it must have received it.
        #expect(await eventually {
            let row = try? records.read { try Row.fetchOne($0, sql: "SELECT status, error FROM fires WHERE fire_id = ?", arguments: [id]) }
            guard let row, let status = row["status"] as String? else { return false }
            return status == "FILLED" || (status == "FAILED" && (row["error"] as String?) == "requote: price moved")
        })
        kill(engine.0.processIdentifier, SIGTERM)
        #expect(try cli.finish(engine).status == 0)
        #expect(await eventually { !isListening(ports.signals) })
    }
}

func isListening(_ port: Int) -> Bool {
    let hex = String(format: ":%04X", port)
    let tables = ["/proc/net/tcp", "/proc/net/tcp6"].compactMap { try? String(contentsOfFile: $0, encoding: .utf8) }
    return tables.joined().split(separator: "\n").contains { line in
        let fields = line.split(separator: " ")
        return fields.count > 3 && fields[1].hasSuffix(hex) && fields[3] == "0A"
    }
}
