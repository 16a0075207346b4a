import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import RunbookTestSupport
import Testing

/// People acting on incidents from their phones: a local server speaking the Bot API's
/// `getUpdates` (with 429s and an outage) hands the engine button presses from allowed and
/// unknown users.
@Suite(.serialized) struct TelegramButtonTests {
    static let botAPI = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Peers/bot_api.py")

    /// The Bot API calls the server received, by method.
    func calls(_ server: Peer, _ method: String) -> [[String: Any]] {
        server.received.filter { $0["method"] as? String == method }.compactMap { $0["body"] as? [String: Any] }
    }

    func control(_ server: Peer, _ path: String, _ body: [String: Any]) async throws {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(server.port)/control/\(path)")!)
        request.httpMethod = "POST"
        request.httpBody = try JSONSerialization.data(withJSONObject: body)
        _ = try await URLSession.shared.data(for: request)
    }

    /// A press on the button `data` under the message about `incident`, from `user`.
    func press(_ server: Peer, user: Int, _ name: String, _ data: String) async throws {
        let message = calls(server, "sendMessage").last { ($0["text"] as? String)?.contains("#\(data.split(separator: ":")[1]).") == true }
        try await control(server, "press", [
            "user": user, "username": name, "data": data, "message_id": 7, "text": message?["text"] as? String ?? "", "reply_markup": message?["reply_markup"] ?? [:],
        ])
    }

    func incident(_ cli: CLIHarness, _ id: Int) throws -> [String: Any] {
        (try cli.run("incidents", "--all", "--json").json["incidents"] as? [[String: Any]] ?? []).first { $0["id"] as? Int == id } ?? [:]
    }

    func timeline(_ cli: CLIHarness, _ id: Int) throws -> String {
        try cli.run("incident", "\(id)").stdout
    }

    @Test func anAllowedPressAcknowledgesAnUnknownOneChangesNothingAndLevelFourNeedsTwoPeople() async throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        let ports = EnginePorts()
        let server = try Peer(script: Self.botAPI)
        let closed = [try PostgresServer.freePort(), try PostgresServer.freePort()]
        try cli.write("runbook.yaml", ports.config(queue: cli.path("queue.ipc")) + """

            channels:
              ops-telegram: {type: telegram, chat_id: "42", base_url: "http://127.0.0.1:\(server.port)", token_env: TEST_BOT_TOKEN, allowed_users: [111, 222]}
            escalation:
              levels:
                2: {channels: [ops-telegram], climb_after: 20s}
                3: {channels: [ops-telegram]}
              retry: {min: 200ms, max: 1s}
            """)
        for (index, port) in closed.enumerated() {
            try cli.write("Checks/gone-\(index + 1).yaml", "name: gone-\(index + 1)\nprobe: {port: {ports: [\(port)]}}\ninterval: 500ms\nhysteresis: {fail: 1}\n")
        }
        try cli.write("Runbooks/emergency-recovery.yaml", "name: emergency-recovery\nsteps:\n  - id: say\n    log: {message: reset}\n")
        // The first reads of presses meet a 429 and then an outage.
        try await control(server, "fail", ["status": 429, "count": 1, "retry_after": 1])
        let engine = try cli.start(["up", "--log-format", "text"], environment: ["TEST_BOT_TOKEN": EscalationTests.token])
        defer { if engine.0.isRunning { kill(engine.0.processIdentifier, SIGKILL) } }

        // Both incidents are paged at level 2, with buttons.
        #expect(await eventually(within: .seconds(30)) { calls(server, "sendMessage").count >= 2 })
        // Incident 1's (the two level-2 messages may go in either order).
        let first = try #require(calls(server, "sendMessage").first { ($0["text"] as? String)?.contains("#1.") == true })
        let keyboard = (first["reply_markup"] as? [String: Any])?["inline_keyboard"] as? [[[String: Any]]] ?? []
        let buttons = keyboard.flatMap { $0 }.compactMap { $0["callback_data"] as? String }
        #expect(buttons.contains("ack:1") && buttons.contains("silence:1") && buttons.contains("run:1") && buttons.contains("gate:1"), "\(keyboard)")
        #expect(!buttons.contains("reset:1"), "level 4 is offered from level 3 on")
        // The 429 was waited out for its retry_after (1 s) before the next read.
        let reads = server.received.filter { $0["method"] as? String == "getUpdates" }.compactMap { $0["at"] as? Double }
        #expect(reads.count >= 2 && reads[1] - reads[0] >= 0.95, "\(reads.prefix(3))")
        try await control(server, "fail", ["status": 502, "count": 2])
        // Presses are acted on from the engine's first read of them on: those waiting before are passed over.
        #expect(await eventually { FileManager.default.fileExists(atPath: cli.path("var/telegram-ops-telegram.offset")) })

        // Someone not on the list: refused politely, nothing changes, the attempt is on the timeline.
        try await press(server, user: 999, "mallory", "ack:1")
        #expect(await eventually(within: .seconds(20)) { calls(server, "answerCallbackQuery").count >= 1 })
        #expect((calls(server, "answerCallbackQuery").first?["text"] as? String)?.contains("Sorry, @mallory: you are not on this channel's list") == true)
        #expect(try incident(cli, 1)["status"] as? String == "open")
        #expect(try timeline(cli, 1).contains("pressed Acknowledge from Telegram; not on ops-telegram's allowed_users, nothing done"))

        // An allowed person: acknowledged, on the timeline with their name, noted under the message.
        try await press(server, user: 111, "ann", "ack:1")
        #expect(await eventually(within: .seconds(20)) { (try? incident(cli, 1)["status"] as? String) == "acknowledged" })
        #expect(try incident(cli, 1)["acknowledged_by"] as? String == "@ann (Telegram user 111)")
        #expect(await eventually { calls(server, "editMessageText").contains { ($0["text"] as? String)?.contains("✔ acknowledged by @ann at ") == true } })
        let edit = try #require(calls(server, "editMessageText").first)
        #expect(edit["message_id"] as? Int == 7 && edit["chat_id"] as? Int == 42)
        #expect(((edit["reply_markup"] as? [String: Any])?["inline_keyboard"] as? [Any])?.isEmpty == false, "the buttons stay for the next person")
        // The message pressed under: incident 1's (the two level-2 messages may go in either order).
        let pressed = calls(server, "sendMessage").first { ($0["text"] as? String)?.contains("#1.") == true }
        #expect((edit["text"] as? String)?.hasPrefix(pressed?["text"] as? String ?? "?") == true, "the message keeps its text, with the note under it")

        // The other incident climbs to level 3 unacknowledged; the acknowledged one does not.
        #expect(await eventually(within: .seconds(60)) { (try? incident(cli, 2)["level"] as? Int) == 3 })
        #expect(try incident(cli, 1)["level"] as? Int == 2, "an acknowledgement stops the climb")
        #expect(await eventually { calls(server, "sendMessage").contains { ($0["text"] as? String)?.contains("L3") == true } })
        let levelThree = calls(server, "sendMessage").last { ($0["text"] as? String)?.contains("L3") == true }
        let offered = ((levelThree?["reply_markup"] as? [String: Any])?["inline_keyboard"] as? [[[String: Any]]] ?? []).flatMap { $0 }.compactMap { $0["callback_data"] as? String }
        #expect(offered.contains("reset:2"), "\(offered)")

        // Level 4 needs two different people: one pressing twice is one.
        try await press(server, user: 111, "ann", "reset:2")
        try await press(server, user: 111, "ann", "reset:2")
        #expect(await eventually(within: .seconds(20)) { calls(server, "answerCallbackQuery").count >= 4 })
        let answers = calls(server, "answerCallbackQuery").compactMap { $0["text"] as? String }
        #expect(answers.contains { $0.hasPrefix("Confirmed (1 of 2)") } && answers.contains { $0.hasPrefix("You confirmed already") }, "\(answers)")
        #expect(try incident(cli, 2)["level"] as? Int == 3, "one person is not enough")
        try await press(server, user: 222, "bob", "reset:2")
        #expect(await eventually(within: .seconds(20)) { (try? incident(cli, 2)["level"] as? Int) == 4 })
        #expect(await eventually { (try? timeline(cli, 2).contains("(emergency-recovery) started: level 4 confirmed by @ann (Telegram user 111) and @bob (Telegram user 222)")) == true })
        let history = try cli.run("history", "--json").stdout
        #expect(history.contains("emergency-recovery"), "\(history)")

        // The kill switch from the phone.
        try await press(server, user: 222, "bob", "gate:1")
        #expect(await eventually(within: .seconds(20)) { (try? cli.run("gate", "status").status) == 1 })
        let gate = try cli.run("gate", "status").stdout
        #expect(gate.contains("closed from Telegram for incident 1") && gate.contains("@bob (Telegram user 222)"), "\(gate)")

        // The presses read are not read again: the offset is kept for the next start.
        let offset = try String(contentsOfFile: cli.path("var/telegram-ops-telegram.offset"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(Int(offset) == 1007, "six presses, from update 1001: \(offset)")
        kill(engine.0.processIdentifier, SIGTERM)
        #expect(try cli.finish(engine).status == 0)
    }
}
