import Foundation
import RunbookTestSupport
import Testing

/// Escalation end to end: a running `runbook up --simulate`, a local server speaking Telegram's
/// Bot API, and the incident commands in other processes.
@Suite(.serialized) struct EscalationTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardized
    static let botAPI = repository.appendingPathComponent("Tests/RunbookChannelsTests/Peers/http_peer.py")
    static let token = "4242:secret-bot-token"

    /// The Telegram messages the server received, as text, in order.
    func telegramTexts(_ server: Peer) -> [String] {
        server.received.map { Peer.json($0)["text"] as? String ?? "" }
    }

    func channelConfig(port: Int, climbAfter: String) -> String {
        """

        channels:
          ops-telegram: {type: telegram, chat_id: "42", base_url: "http://127.0.0.1:\(port)/ok", token_env: TEST_BOT_TOKEN}
        escalation:
          levels:
            2: {channels: [ops-telegram], climb_after: \(climbAfter)}
            3: {channels: [ops-telegram]}
          retry: {min: 200ms, max: 1s}
        """
    }

    @Test func lostHeartbeatsEscalateToTelegramAnAckKeepsItQuietAndTheResolveIsSent() async throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        let ports = EnginePorts()
        let server = try Peer(script: Self.botAPI)
        try cli.write("runbook.yaml", ports.config(queue: cli.path("queue.ipc")) + channelConfig(port: server.port, climbAfter: "12s"))
        try cli.copyShipped("Runbooks")
        try cli.write("Checks/ea-heartbeat.yaml", """
            name: ea-heartbeat
            probe: ea_heartbeat
            critical: "> 3s"
            interval: 500ms
            hysteresis: {fail: 2, recover: 1}
            on_critical: {run: ea-lost, params: {wait: 2s, router: "tcp://127.0.0.1:\(ports.router)"}}
            """)
        // ea-lost restarts the router; on a busy machine that takes seconds, which is no incident.
        try cli.write("Checks/command-router.yaml", "name: command-router\nprobe: {service: command-router}\ninterval: 2s\nhysteresis: {fail: 8}")
        // EAs without heartbeats are stray peers too: explained by ea-heartbeat, so held back.
        try cli.write("Checks/router-peers.yaml", "name: router-peers\nprobe: router_peers\ninterval: 1s\ndepends_on: [ea-heartbeat]")
        let validate = try cli.run("validate")
        #expect(validate.status == 0, "\(validate.stderr)")

        // Heartbeats stop 2 s in and come back 45 s in.
        let engine = try cli.start(
            ["up", "--simulate", "--log-format", "text", "--fault", "stop-heartbeats-after=2s", "--fault", "resume-heartbeats-after=45s"],
            environment: ["TEST_BOT_TOKEN": Self.token]
        )
        // Level 1 (ea-lost) restarts the router, no heartbeat comes, the run escalates: level 2
        // reaches Telegram.
        #expect(await eventually(within: .seconds(40)) { !telegramTexts(server).isEmpty })
        let first = try #require(server.received.first)
        #expect((first["path"] as? String) == "/ok/bot\(Self.token)/sendMessage")
        #expect(Peer.json(first)["chat_id"] as? String == "42" || Peer.json(first)["chat_id"] as? Int == 42)
        let alert = telegramTexts(server)[0]
        #expect(alert.hasPrefix("[#1.1] CRITICAL L2 ea-heartbeat"), "\(alert)")
        #expect(alert.contains("runbook ack 1"), "\(alert)")

        let listed = try cli.run("incidents", "--json")
        #expect(listed.status == 1)
        // An open incident the listing leaves out (older than the latest --limit) still makes it 1.
        #expect(try cli.run("incidents", "--all", "--limit", "0").status == 1)
        // router-peers (the silent EA is a stray peer) may be listed first: held back by
        // ea-heartbeat, it waits at level 1.
        let listedIncidents = listed.json["incidents"] as? [[String: Any]] ?? []
        let incident = try #require(listedIncidents.first { $0["check"] as? String == "ea-heartbeat" }, "\(listedIncidents)")
        #expect(incident["id"] as? Int == 1 && incident["level"] as? Int == 2 && incident["status"] as? String == "open")
        #expect(listedIncidents.allSatisfy { $0["check"] as? String != "router-peers" || $0["level"] as? Int == 1 }, "\(listedIncidents)")

        // Acknowledged from another process before the 12 s climb (a busy machine needs seconds to
        // see the message and start two commands): no level 3, even well after the climb time.
        let ack = try cli.run("ack", "1", "--by", "maria")
        #expect(ack.status == 0 && ack.stdout.contains("acknowledged by maria (CLI)"), "\(ack.stdout)\(ack.stderr)")
        let times = ISO8601DateFormatter()
        times.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let raised = try #require((incident["level_at"] as? String).flatMap { times.date(from: $0) }, "\(incident)")
        try await Task.sleep(for: .seconds(max(0, raised.addingTimeInterval(14).timeIntervalSinceNow)))
        #expect(telegramTexts(server).count == 1, "\(telegramTexts(server))")
        let quiet = try cli.run("incident", "1", "--json").json
        #expect(quiet["level"] as? Int == 2 && quiet["status"] as? String == "acknowledged")

        // Heartbeats resume: the check is healthy, the incident resolves, and Telegram hears it.
        #expect(await eventually(within: .seconds(60)) { telegramTexts(server).count == 2 })
        let resolve = telegramTexts(server).last ?? ""
        #expect(resolve.hasPrefix("[#1.2] RESOLVED"), "\(resolve)")
        let timeline = try cli.run("incident", "1", "--json").json
        #expect(timeline["status"] as? String == "resolved")
        let kinds = (timeline["timeline"] as? [[String: Any]] ?? []).map { $0["kind"] as? String ?? "" }
        for kind in ["opened", "run", "level", "notified", "acknowledged", "resolved"] {
            #expect(kinds.contains(kind), "\(kind) missing from \(kinds)")
        }
        // Its messages, and only its, are listed with it: the level-2 message and the resolution.
        let messages = timeline["outbox"] as? [[String: Any]] ?? []
        #expect(messages.count >= 2 && messages.allSatisfy { ($0["incident_id"] as? Int64 ?? ($0["incident_id"] as? Int).map(Int64.init)) == 1 }, "\(messages)")
        let runLinked = (timeline["timeline"] as? [[String: Any]] ?? []).contains { ($0["run_id"] as? Int64 ?? 0) > 0 || ($0["run_id"] as? Int ?? 0) > 0 }
        #expect(runLinked)
        let outbox = try cli.run("outbox")
        #expect(outbox.status == 0, "\(outbox.stdout)")

        kill(engine.0.processIdentifier, SIGTERM)
        let result = try cli.finish(engine)
        #expect(result.status == 0)
        // The bot token is in no log line and no record.
        #expect(!result.stderr.contains("secret-bot-token") && !result.stdout.contains("secret-bot-token"))
        let database = try Data(contentsOf: URL(fileURLWithPath: cli.path("var/runbook.db")))
        #expect(database.range(of: Data("secret-bot-token".utf8)) == nil)
    }

    @Test func theOutboxDeliversEveryMessageOnceInOrderAcrossAnOutageAndAKilledEngine() async throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        let ports = EnginePorts()
        // The Telegram server is down until the end: nothing listens on its port yet.
        let port = ports.spare
        try cli.write("runbook.yaml", ports.config(queue: cli.path("queue.ipc")) + channelConfig(port: port, climbAfter: "1h"))
        try cli.write("Runbooks/announce.yaml", """
            name: announce
            params:
              label: {type: string, default: a}
            steps:
              - {id: one, notify: {channels: [ops-telegram], message: "${{ params.label }}-1"}}
              - {id: two, notify: {channels: [ops-telegram], message: "${{ params.label }}-2"}}
              - {id: three, notify: {channels: [ops-telegram], message: "${{ params.label }}-3"}}
            """)
        let environment = ["TEST_BOT_TOKEN": Self.token]
        let first = try cli.start(["up", "--log-format", "text"], environment: environment)
        #expect(await eventually { FileManager.default.fileExists(atPath: cli.path("var/engine-state.json")) })
        #expect(try cli.run("run", "announce", "--param", "label=a").status == 0)
        // The engine tries, fails and keeps the messages.
        #expect(await eventually {
            let pending = (try? cli.run("outbox", "--json").json["outbox"] as? [[String: Any]]) ?? []
            return pending.count == 3 && (pending.first?["attempts"] as? Int ?? 0) >= 2
        })
        let waiting = try cli.run("outbox")
        #expect(waiting.status == 1 && waiting.stdout.contains("pending") && waiting.stdout.contains("Connection refused") || waiting.stdout.contains("connect"), "\(waiting.stdout)")

        // The engine is killed outright; more messages are queued while it is gone.
        kill(first.0.processIdentifier, SIGKILL)
        _ = try cli.finish(first)
        #expect(try cli.run("run", "announce", "--param", "label=b").status == 0)

        // The channel comes back, then the engine: everything arrives once, in order.
        let server = try Peer(script: Self.botAPI, [String(port)])
        #expect(server.port == port)
        let second = try cli.start(["up", "--log-format", "text"], environment: environment)
        let expected = ["a-1", "a-2", "a-3", "b-1", "b-2", "b-3"]
        #expect(await eventually(within: .seconds(30)) { telegramTexts(server).count >= expected.count })
        // One a second per chat: give a duplicate the time to show.
        try await Task.sleep(for: .seconds(2))
        let bodies = telegramTexts(server).map { text in text.split(separator: "\n").dropFirst().first.map(String.init) ?? "" }
        #expect(bodies == expected, "\(telegramTexts(server))")
        let outbox = try cli.run("outbox")
        #expect(outbox.status == 0, "\(outbox.stdout)")
        kill(second.0.processIdentifier, SIGTERM)
        #expect(try cli.finish(second).status == 0)
    }
}
