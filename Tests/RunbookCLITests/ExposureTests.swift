import Foundation
import RunbookTestSupport
import Testing

/// Exposure-aware escalation end to end: two pyzmq EAs, one holding positions and one flat, are
/// lost; the one with positions is paged at once with what it holds, the flat one waits for its
/// recovery runbook.
@Suite(.serialized) struct ExposureTests {
    /// A recovery that takes longer than the test: the incident waits for it at level 1.
    static let recovery = "name: recover-slowly\nsteps:\n  - id: pause\n    wait: 2m\n"

    func heartbeatCheck(_ ea: String) -> String {
        """
        name: \(ea)-heartbeat
        probe: {ea_heartbeat: {ea: \(ea)}}
        critical: "> 3s"
        interval: 500ms
        hysteresis: {fail: 2, recover: 1}
        on_critical: {run: recover-slowly}
        """
    }

    @Test func anEALostWithOpenPositionsIsPagedAtLevelTwoWithItsExposureAndAFlatOneWaitsAtLevelOne() async throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        let ports = EnginePorts()
        let server = try Peer(script: EscalationTests.botAPI)
        try cli.write("runbook.yaml", ports.config(queue: cli.path("queue.ipc")) + EscalationTests().channelConfig(port: server.port, climbAfter: "10m"))
        try cli.write("Runbooks/recover-slowly.yaml", Self.recovery)
        try cli.write("Checks/ea-01-heartbeat.yaml", heartbeatCheck("ea-01"))
        try cli.write("Checks/ea-02-heartbeat.yaml", heartbeatCheck("ea-02"))
        let engine = try cli.start(["up", "--log-format", "text"], environment: ["TEST_BOT_TOKEN": EscalationTests.token])
        defer { if engine.0.isRunning { kill(engine.0.processIdentifier, SIGKILL) } }
        var holding: PositionsEA? = try PositionsEA(router: ports.router, confirmations: ports.confirmations, target: "ea-01")
        var flat: PositionsEA? = try PositionsEA(router: ports.router, confirmations: ports.confirmations, target: "ea-02")
        #expect(await eventually {
            let services = (try? cli.run("flows", "--json").json["services"] as? [[String: Any]]) ?? []
            return services.first { $0["name"] as? String == "command-router" }?["identified_peers"] as? Int == 2
        }, "both EAs are on the router")

        for id in ["F-1", "F-2", "F-3"] {
            #expect(try cli.run("fire", "--target", "ea-01", "--symbol", "EURUSD", "--direction", "BUY", "--lot", "0.4", "--id", id).status == 0)
            #expect(await holding?.ticket(of: id) != nil)
        }
        try await holding?.tell(["do": "positions"])
        try await flat?.tell(["do": "positions"])
        try await Task.sleep(for: .seconds(1))
        // Both EAs lost at once.
        holding = nil
        flat = nil

        #expect(await eventually(within: .seconds(30)) { EscalationTests().telegramTexts(server).contains { $0.contains("ea-01-heartbeat") } })
        let alert = try #require(EscalationTests().telegramTexts(server).first { $0.contains("ea-01-heartbeat") })
        #expect(alert.contains("CRITICAL L2 ea-01-heartbeat") && alert.contains("ea-01 lost with 3 open positions, 1.2 lots"), "\(alert)")

        var listed: [[String: Any]] = []
        #expect(await eventually(within: .seconds(10)) {
            listed = (try? cli.run("incidents", "--json").json["incidents"] as? [[String: Any]]) ?? []
            return listed.contains { $0["check"] as? String == "ea-02-heartbeat" }
        })
        let exposed = try #require(listed.first { $0["check"] as? String == "ea-01-heartbeat" }, "\(listed)")
        let waiting = try #require(listed.first { $0["check"] as? String == "ea-02-heartbeat" }, "\(listed)")
        #expect(exposed["level"] as? Int == 2)
        #expect(waiting["level"] as? Int == 1, "the flat EA waits for ea-lost: \(waiting) \((try? cli.run("incident", "\(waiting["id"] ?? 0)").stdout) ?? "")")
        #expect(!EscalationTests().telegramTexts(server).contains { $0.contains("ea-02-heartbeat") }, "nobody is told of the flat EA yet")
        kill(engine.0.processIdentifier, SIGTERM)
        #expect(try cli.finish(engine).status == 0)
    }
}
