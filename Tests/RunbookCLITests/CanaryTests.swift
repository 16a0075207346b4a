import Foundation
import GRDB
import RunbookTestSupport
import Testing

/// The canary fire: the whole fire path proved continuously on a demo account's EA, measured from
/// queued to confirmed; an EA that stops confirming turns the check critical.
@Suite(.serialized) struct CanaryTests {
    static let check = """
        name: fire-round-trip
        probe: {fire_round_trip: {timeout: 3s}}
        warning: "> 2000"
        critical: "> 5000"
        interval: 1h
        timeout: 6s
        """

    func engine(_ cli: CLIHarness, _ ports: EnginePorts, faults: [String] = []) async throws -> (Process, URL, URL) {
        try cli.write("runbook.yaml", ports.config(queue: cli.path("queue.ipc")) + "\neas:\n  ea-01: {canary: true}\n")
        try cli.write("Checks/fire-round-trip.yaml", Self.check)
        let engine = try cli.start(["up", "--simulate", "--eas", "2", "--log-format", "text"] + faults.flatMap { ["--fault", $0] })
        #expect(await eventually {
            let services = (try? cli.run("flows", "--json").json["services"] as? [[String: Any]]) ?? []
            return services.first { $0["name"] as? String == "command-router" }?["identified_peers"] as? Int == 2
        }, "the simulated EAs are on the router")
        return engine
    }

    @Test func aCanaryRoundTripIsMeasuredOnTheCanaryEAAloneAndMakesNoTrade() async throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        let ports = EnginePorts()
        let engine = try await engine(cli, ports)
        defer { if engine.0.isRunning { kill(engine.0.processIdentifier, SIGKILL) } }
        let result = try cli.run("check", "fire-round-trip", "--json")
        let reading = try #require((try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]])?.first, "\(result.stdout)\(result.stderr)")
        #expect(result.status == 0 && reading["status"] as? String == "healthy", "\(reading)")
        let latency = try #require(reading["value"] as? Double)
        #expect(latency >= 0 && latency < 2000)
        #expect((reading["text"] as? String)?.hasPrefix("canary round trip ") == true && reading["subject"] as? String == "ea-01", "\(reading)")
        print("canary round trip through the simulated EA: \(Int(latency)) ms")
        let records = try DatabaseQueue(path: cli.path("var/runbook.db"))
        // (The engine's own first evaluation at its start may have sent one before the EAs were on.)
        let canaries = try await records.read { try String.fetchAll($0, sql: "SELECT target_uuid || ' ' || status FROM fires WHERE fire_id LIKE 'canary-%' ORDER BY queued_at") }
        #expect(canaries.last == "ea-01 FILLED" && canaries.allSatisfy { $0.hasPrefix("ea-01 ") }, "to the EA marked canary only: \(canaries)")
        // The simulated EA closes real fires after 5 s; a canary is no trade.
        try await Task.sleep(for: .seconds(6))
        #expect(try await records.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM trades WHERE fire_id LIKE 'canary-%'") } == 0)

        // With the gate closed the canary is not sent, and the check says why instead of paging.
        #expect(try cli.run("gate", "close", "--reason", "maintenance", "--by", "ann").status == 0)
        let closed = try cli.run("check", "fire-round-trip", "--json")
        let idle = (try? JSONSerialization.jsonObject(with: Data(closed.stdout.utf8)) as? [[String: Any]])?.first ?? [:]
        #expect(closed.status == 0 && idle["status"] as? String == "idle", "\(closed.stdout)")
        #expect((idle["text"] as? String)?.hasPrefix("gate closed: maintenance") == true, "\(idle)")
        kill(engine.0.processIdentifier, SIGTERM)
        #expect(try cli.finish(engine).status == 0)
    }

    @Test func anEAThatDropsConfirmationsTurnsTheCheckCritical() async throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        let ports = EnginePorts()
        let engine = try await engine(cli, ports, faults: ["drop-confirmations"])
        defer { if engine.0.isRunning { kill(engine.0.processIdentifier, SIGKILL) } }
        let result = try cli.run("check", "fire-round-trip")
        #expect(result.status == 2, "critical: \(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("ea-01: no confirmation of the canary within 3s (its fire canary-ea-01-") && result.stdout.contains("is SENT)"), "\(result.stdout)")
        kill(engine.0.processIdentifier, SIGTERM)
        #expect(try cli.finish(engine).status == 0)
    }
}
