import Foundation
import GRDB
import RunbookTestSupport
import Testing

/// The kill switch on the command router, as an operator uses it at 3 a.m.: closed from the
/// command line, every fire fails with the reason and never reaches the EA, test probes still
/// pass, and it stays closed across a restart of the engine until a person opens it.
@Suite struct GateTests {
    static let ea = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Peers/listening_ea.py").path

    @Test func aClosedGateFailsFiresWithItsReasonLetsProbesThroughAndSurvivesARestart() async throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        let ports = EnginePorts()
        try cli.write("runbook.yaml", ports.config(queue: cli.path("queue.ipc")))
        try cli.write("Runbooks/probe-queue.yaml", """
            name: probe-queue
            steps:
              - id: probe
                probe: {queue: "ipc://\(cli.path("queue.ipc"))", timeout: 5s}
            """)
        var engine = try cli.start(["up", "--log-format", "text"])
        defer { if engine.0.isRunning { kill(engine.0.processIdentifier, SIGKILL) } }
        #expect(await eventually { FileManager.default.fileExists(atPath: cli.path("var/engine-state.json")) })

        let peer = Process()
        peer.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        peer.arguments = [Self.ea, "tcp://127.0.0.1:\(ports.router)", "ea-g"]
        let output = cli.folder.appendingPathComponent("ea.out")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        peer.standardOutput = try FileHandle(forWritingTo: output)
        try peer.run()
        defer { kill(peer.processIdentifier, SIGKILL) }
        func received() -> [String] {
            ((try? String(contentsOf: output, encoding: .utf8)) ?? "").split(separator: "\n").compactMap {
                (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["fire_id"] as? String
            }
        }
        let records = try DatabaseQueue(path: cli.path("var/runbook.db"))
        func fire(_ id: String) throws {
            let result = try cli.run("fire", "--target", "ea-g", "--symbol", "EURUSD", "--direction", "BUY", "--lot", "0.1", "--id", id)
            #expect(result.status == 0, "\(result.stderr)")
        }
        func status(_ id: String) -> String? {
            try? records.read { try String.fetchOne($0, sql: "SELECT status || ': ' || coalesce(error, '') FROM fires WHERE fire_id = ?", arguments: [id]) }
        }
        // The gate open: a fire reaches the EA.
        #expect(await eventually {
            try? fire("G0-\(UUID().uuidString.prefix(4))")
            return !received().isEmpty
        }, "the EA receives fires while the gate is open")

        let closed = try cli.run("gate", "close", "--reason", "broker maintenance", "--by", "ann")
        #expect(closed.status == 0, "\(closed.stderr)")
        #expect(closed.stdout.contains("closed since") && closed.stdout.contains("by ann (cli): broker maintenance"), "\(closed.stdout)")
        try fire("G1")
        #expect(await eventually { status("G1") == "FAILED: gate closed: broker maintenance" }, "\(status("G1") ?? "no record")")
        // The test probe passes through the closed gate.
        let probe = try cli.run("run", "probe-queue")
        #expect(probe.status == 0, "\(probe.stdout)\(probe.stderr)")
        let shown = try cli.run("gate")
        #expect(shown.status == 1 && shown.stdout.contains("the gate is closed since") && shown.stdout.contains("broker maintenance"), "\(shown.stdout)")

        // Restarted, the engine keeps the gate closed.
        kill(engine.0.processIdentifier, SIGTERM)
        #expect(try cli.finish(engine).status == 0)
        engine = try cli.start(["up", "--log-format", "text"])
        #expect(await eventually { (try? cli.run("flows").status) == 0 })
        try fire("G2")
        #expect(await eventually { status("G2") == "FAILED: gate closed: broker maintenance" }, "closed across a restart: \(status("G2") ?? "no record")")
        try await Task.sleep(for: .seconds(1))
        #expect(!received().contains("G1") && !received().contains("G2"), "no fire reached the EA while the gate was closed: \(received())")
        // The dashboard, in headless Chromium, says so in red with who and why.
        let dom = try DashboardBrowserTests.dom("http://127.0.0.1:\(ports.http)/", profile: cli.folder.appendingPathComponent("chromium"))
        #expect(dom.contains(#"id="gate" role="alert" data-gate-state="closed""#), "\(dom.prefix(2000))")
        #expect(dom.contains("Gate closed by ann (cli)") && dom.contains(": broker maintenance. Fires fail and reach no EA."))

        // A person opens it: fires reach the EA again.
        let opened = try cli.run("gate", "open", "--by", "bob", "--reason", "maintenance over")
        #expect(opened.status == 0 && opened.stdout.contains("open since") && opened.stdout.contains("by bob (cli)"), "\(opened.stdout)")
        try fire("G3")
        #expect(await eventually { received().contains("G3") })
        #expect(status("G3")?.hasPrefix("SENT") == true)
        let history = try cli.run("gate", "status", "--json")
        let changes = history.json["changes"] as? [[String: Any]] ?? []
        #expect(changes.map { "\($0["closed"] as? Bool == true ? "closed" : "open") \($0["by"] as? String ?? "")" } == ["open bob", "closed ann"])
        let log = (try? String(contentsOf: engine.2, encoding: .utf8)) ?? ""
        #expect(log.contains("the gate is closed: fires fail and reach no EA"), "the restarted engine says the gate is closed")
        kill(engine.0.processIdentifier, SIGTERM)
        #expect(try cli.finish(engine).status == 0)
    }

    @Test func emergencyRecoveryClosesTheGateFirstAndLeavesItClosed() async throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        let ports = EnginePorts()
        try cli.write("runbook.yaml", ports.config(queue: cli.path("queue.ipc")))
        try cli.copyShipped("Runbooks")
        let engine = try cli.start(["up", "--log-format", "text"])
        defer { if engine.0.isRunning { kill(engine.0.processIdentifier, SIGKILL) } }
        #expect(await eventually { FileManager.default.fileExists(atPath: cli.path("var/engine-state.json")) })
        let run = try cli.run("run", "emergency-recovery", "--confirm", "--param", "wait=5s", "--json")
        let steps = (run.json["steps"] as? [[String: Any]] ?? []).map { $0["id"] as? String ?? "" }
        #expect(steps.first == "close_gate", "the gate closes before anything else: \(steps) \(run.stderr)")
        let shown = try cli.run("gate")
        #expect(shown.status == 1, "closed after the run: \(shown.stdout)")
        #expect(shown.stdout.contains("by runbook emergency-recovery (run ") && shown.stdout.contains("(runbook): emergency-recovery is resetting the system"), "\(shown.stdout)")
        let fire = try cli.run("fire", "--target", "ea-x", "--symbol", "EURUSD", "--direction", "SELL", "--lot", "0.1", "--id", "E1")
        #expect(fire.status == 0)
        let records = try DatabaseQueue(path: cli.path("var/runbook.db"))
        #expect(await eventually {
            (try? records.read { try String.fetchOne($0, sql: "SELECT error FROM fires WHERE fire_id = 'E1'") })??.hasPrefix("gate closed: emergency-recovery") == true
        }, "a person opens it; until then fires fail")
        kill(engine.0.processIdentifier, SIGTERM)
        #expect(try cli.finish(engine).status == 0)
    }
}
