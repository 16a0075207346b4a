import Foundation
import GRDB
import RunbookTestSupport
import Testing

/// Each incident runbook against a running `runbook up --simulate` with its fault injected: the
/// check turns critical, the guardian starts the runbook once, its steps run, the service is
/// restarted, and the run record shows the recovery or the escalation level reached.
@Suite(.serialized) struct IncidentRunbookTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardized

    /// An engine folder with the shipped runbooks and the given checks.
    func prepare(_ cli: CLIHarness, ports: EnginePorts, checks: [String: String], restartWait: String = "200ms") throws {
        try cli.write("runbook.yaml", ports.config(queue: cli.path("queue.ipc")).replacingOccurrences(of: "restart: {wait: 200ms}", with: "restart: {wait: \(restartWait)}"))
        try FileManager.default.createDirectory(atPath: cli.path("Checks"), withIntermediateDirectories: true)
        try cli.copyShipped("Runbooks")
        for (name, text) in checks { try cli.write("Checks/\(name).yaml", text) }
        let validate = try cli.run("validate")
        #expect(validate.status == 0, "\(validate.stderr)")
    }

    /// The runs of `runbook`, and the steps of the first.
    func runs(_ cli: CLIHarness, of runbook: String) throws -> [Row] {
        guard FileManager.default.fileExists(atPath: cli.path("var/runbook.db")) else { return [] }
        let records = try DatabaseQueue(path: cli.path("var/runbook.db"))
        return try records.read { try Row.fetchAll($0, sql: "SELECT * FROM runs WHERE runbook = ? ORDER BY id", arguments: [runbook]) }
    }

    func steps(_ cli: CLIHarness, run: Int64) throws -> [String: String] {
        let records = try DatabaseQueue(path: cli.path("var/runbook.db"))
        let rows = try records.read { try Row.fetchAll($0, sql: "SELECT step_id, status FROM step_attempts WHERE run_id = ? ORDER BY id", arguments: [run]) }
        return Dictionary(rows.map { ($0["step_id"], $0["status"]) }, uniquingKeysWith: { _, last in last })
    }

    /// Waits until the one run of `runbook` has ended; fails when a second one started.
    func finishedRun(_ cli: CLIHarness, of runbook: String) async throws -> Row? {
        _ = await eventually(within: .seconds(60)) { (try? runs(cli, of: runbook))?.first.map { ($0["status"] as String?) != "running" } == true }
        let all = try runs(cli, of: runbook)
        #expect(all.count == 1, "\(runbook) ran \(all.count) times")
        return all.first
    }

    func restarts(_ cli: CLIHarness, of service: String) throws -> Int {
        let services = try cli.run("flows", "--json").json["services"] as? [[String: Any]] ?? []
        return services.first { $0["name"] as? String == service }?["restarts"] as? Int ?? -1
    }

    func stop(_ engine: (Process, URL, URL), _ cli: CLIHarness) throws {
        kill(engine.0.processIdentifier, SIGTERM)
        let result = try cli.finish(engine)
        #expect(result.status == 0, "\(result.stderr.suffix(2000))")
    }

    @Test func lostHeartbeatsStartEALostWhichRestartsTheRouterAndEscalates() async throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        let ports = EnginePorts()
        try prepare(cli, ports: ports, checks: [
            "ea-heartbeat": """
                name: ea-heartbeat
                probe: ea_heartbeat
                warning: "> 2s"
                critical: "> 3s"
                interval: 500ms
                hysteresis: {fail: 2, recover: 1}
                on_critical: {run: ea-lost, params: {wait: 4s, router: "tcp://127.0.0.1:\(ports.router)"}}
                """,
            "command-router": "name: command-router\nprobe: {service: command-router}\ninterval: 1s",
            "router-peers": "name: router-peers\nprobe: router_peers\ninterval: 1s",
        ])
        let engine = try cli.start(["up", "--simulate", "--log-format", "text", "--fault", "stop-heartbeats-after=2s"])
        let run = try await finishedRun(cli, of: "ea-lost")
        #expect(run?["trigger"] == "check" && run?["trigger_source"] == "ea-heartbeat")
        // The EAs never send another heartbeat: the restart does not help, and the run escalates.
        #expect(run?["status"] == "failed" && run?["escalation_level"] == 2)
        let steps = try steps(cli, run: run?["id"] ?? 0)
        #expect(steps["heartbeats"] == "succeeded" && steps["router_answers"] == "succeeded" && steps["stray_peers"] == "succeeded")
        #expect(steps["restart_router"] == "succeeded" && steps["fresh_heartbeat"] == "failed" && steps["give_up"] == "failed")
        #expect(try restarts(cli, of: "command-router") == 1)
        // The check is still critical, with its alert open; no second run within the cooldown.
        // The two simulated EAs came back to the restarted router, but say nothing: from the
        // router's side they are peers that send no heartbeat.
        let peers = try cli.run("check", "router-peers")
        #expect(peers.status == 1 && peers.stdout.contains("2 peer(s) connected, 0 sending heartbeats, 2 stray"), "\(peers.stdout)")
        let check = try cli.run("check", "ea-heartbeat")
        #expect(check.status == 2 && check.stdout.hasPrefix("ea-heartbeat CRITICAL"), "\(check.stdout)")
        try stop(engine, cli)
        #expect(try runs(cli, of: "ea-lost").count == 1)
    }

    @Test func noTicksStartNoMarketDataWhichRestartsTheBridgeAndEscalates() async throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        let ports = EnginePorts()
        try prepare(cli, ports: ports, checks: [
            "market-data": """
                name: market-data
                probe: {freshness: tick}
                critical: "> 2s"
                interval: 500ms
                hysteresis: {fail: 2, recover: 1}
                on_critical: {run: no-market-data, params: {wait: 3s}}
                """,
            "telemetry-bridge": "name: telemetry-bridge\nprobe: {service: telemetry-bridge}\ninterval: 1s",
        ])
        let engine = try cli.start(["up", "--simulate", "--log-format", "text", "--fault", "no-ticks"])
        let run = try await finishedRun(cli, of: "no-market-data")
        #expect(run?["trigger_source"] == "market-data")
        #expect(run?["status"] == "failed" && run?["escalation_level"] == 2)
        let steps = try steps(cli, run: run?["id"] ?? 0)
        #expect(steps["bridge"] == "succeeded" && steps["restart_bridge"] == "succeeded" && steps["ticks_resume"] == "failed")
        #expect(try restarts(cli, of: "telemetry-bridge") == 1)
        try stop(engine, cli)
    }

    @Test func unconfirmedFiresStartFireNotExecutingWhichProbesTheQueueAndEscalates() async throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        let ports = EnginePorts()
        let shipped = { (name: String) in try String(contentsOf: Self.repository.appendingPathComponent("Checks/\(name).yaml"), encoding: .utf8) }
        try prepare(cli, ports: ports, checks: [
            "fires-unconfirmed": """
                name: fires-unconfirmed
                probe:
                  sql: "SELECT count(*) FROM fires WHERE status = 'SENT' AND sent_at < strftime('%Y-%m-%d %H:%M:%f', 'now', '-2 seconds')"
                critical: "> 0"
                interval: 500ms
                hysteresis: {fail: 2, recover: 1}
                on_critical: {run: fire-not-executing}
                """,
            "fire-queue": try shipped("fire-queue"), "command-router": try shipped("command-router"), "ea-heartbeat": try shipped("ea-heartbeat"),
        ])
        let engine = try cli.start(["up", "--simulate", "--log-format", "text", "--fault", "drop-confirmations"])
        // Once the EAs are connected, a fire goes out and its confirmation never comes back.
        #expect(await eventually { (try? cli.run("check", "ea-heartbeat").status) == 0 })
        let fire = try cli.run("fire", "--target", "ea-01", "--symbol", "EURUSD", "--direction", "BUY", "--lot", "0.1")
        #expect(fire.status == 0, "\(fire.stderr)")
        let run = try await finishedRun(cli, of: "fire-not-executing")
        #expect(run?["trigger_source"] == "fires-unconfirmed")
        #expect(run?["status"] == "failed" && run?["escalation_level"] == 2)
        let steps = try steps(cli, run: run?["id"] ?? 0)
        // The queue path works (the probe came through), so the router is left alone.
        #expect(steps["queue"] == "succeeded" && steps["router"] == "succeeded" && steps["ea_connected"] == "succeeded")
        #expect(steps["restart_router"] == "skipped" && steps["confirmations"] == "failed" && steps["give_up"] == "failed")
        let probes = try await DatabaseQueue(path: cli.path("var/runbook.db")).read { try Int.fetchOne($0, sql: "SELECT count(*) FROM probes") }
        #expect(probes == 1)
        try stop(engine, cli)
    }

    @Test func aKilledSignalEngineStartsEliteGuardStoppedWhichRestartsItAndRecovers() async throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        let ports = EnginePorts()
        // The supervisor would wait a minute before restarting the program by itself.
        try prepare(cli, ports: ports, checks: [
            "signals-per-hour": """
                name: signals-per-hour
                probe: {freshness: signal}
                critical: "> 3s"
                interval: 500ms
                hysteresis: {fail: 2, recover: 1}
                on_critical: {run: elite-guard-stopped, params: {service: sim-signals, endpoint: "tcp://127.0.0.1:\(ports.signals)", wait: 20s}}
                """,
        ], restartWait: "1m")
        let engine = try cli.start(["up", "--simulate", "--log-format", "text", "--tick-rate", "400"])
        #expect(await eventually { (try? cli.run("check", "signals-per-hour").status) == 0 })
        let signalEngine = try #require(Self.child(of: engine.0.processIdentifier, running: "signals"))
        kill(signalEngine, SIGKILL)
        let run = try await finishedRun(cli, of: "elite-guard-stopped")
        #expect(run?["trigger_source"] == "signals-per-hour")
        #expect(run?["status"] == "succeeded" && run?["escalation_level"] == 0, "\(String(describing: run?["error"] as String?))")
        let steps = try steps(cli, run: run?["id"] ?? 0)
        // The killed engine's publisher did not answer; the restarted one sends signals again.
        #expect(steps["publisher"] == "failed" && steps["restart_engine"] == "succeeded")
        #expect(steps["signals_resume"] == "succeeded" && steps["give_up"] == "skipped")
        #expect(Self.child(of: engine.0.processIdentifier, running: "signals").map { $0 != signalEngine } == true)
        try stop(engine, cli)
    }

    /// The child of `parent` whose command line has `word` as an argument.
    static func child(of parent: Int32, running word: String) -> Int32? {
        let pids = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap(Int32.init)
        return pids.first { pid in
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return false }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 2, Int32(fields[1]) == parent else { return false }
            let arguments = ((try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8)) ?? "").split(separator: "\0")
            return arguments.contains { $0 == word }
        }
    }
}
