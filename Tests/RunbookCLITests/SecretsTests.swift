import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import RunbookTestSupport
import Testing

/// A secret parameter end to end, as an operator would leak it: `runbook run` with the engine
/// up, the secret handed to a child run, notified and escalated to a Telegram server, then
/// looked at through the API, the dashboard, `show --json` and the outbox.
@Suite(.serialized) struct SecretsTests {
    static let botAPI = EscalationTests.repository.appendingPathComponent("Tests/RunbookChannelsTests/Peers/http_peer.py")

    static func get(_ url: String) async throws -> String {
        let (data, _) = try await URLSession.shared.data(from: URL(string: url)!)
        return String(decoding: data, as: UTF8.self)
    }

    static func mode(_ path: String) -> Int {
        (try? FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? 0
    }

    @Test func aSecretParameterIsMaskedEverywhereItGoesButInTheCommandsEnvironment() async throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        let ports = EnginePorts()
        let telegram = try Peer(script: Self.botAPI)
        try cli.write("runbook.yaml", ports.config(queue: cli.path("queue.ipc")) + """

            channels:
              ops-telegram: {type: telegram, chat_id: "42", base_url: "http://127.0.0.1:\(telegram.port)/ok", token_env: TEST_BOT_TOKEN}
            escalation:
              levels:
                2: {channels: [ops-telegram]}
              retry: {min: 200ms, max: 1s}
            """)
        try cli.write("Runbooks/rotate.yaml", """
            name: rotate
            params:
              pw: {type: string, secret: true}
            steps:
              - id: apply
                run: {runbook: apply-password, params: {password: "${{ params.pw }}"}}
              - id: tell
                notify: {channels: [ops-telegram], message: "password ${{ params.pw }} is in place"}
              - id: raise
                escalate: {level: 2, reason: "rotation to ${{ params.pw }} needs a check"}
            """)
        try cli.write("Runbooks/apply-password.yaml", """
            name: apply-password
            params:
              password: {type: string}
            steps:
              - id: write
                shell:
                  command: printf '%s' "$PASSWORD" > seen.txt; echo "applied $PASSWORD"
                  env: {PASSWORD: "${{ params.password }}"}
            """)
        let secret = "hunter2-\(UUID().uuidString)"
        let engine = try cli.start(["up", "--log-format", "text"], environment: ["TEST_BOT_TOKEN": EscalationTests.token])
        #expect(await eventually { FileManager.default.fileExists(atPath: cli.path("var/engine-state.json")) })

        let run = try cli.run("run", "rotate", "--param", "pw=\(secret)")
        #expect(run.status == 1, "\(run.stdout)\(run.stderr)")
        // The command had the value itself.
        #expect(try String(contentsOfFile: cli.path("seen.txt"), encoding: .utf8) == secret)

        // The notification and the level-2 incident reach Telegram, masked.
        let texts = { telegram.received.map { Peer.json($0)["text"] as? String ?? "" } }
        #expect(await eventually(within: .seconds(30)) { texts().count >= 2 }, "\(texts())")
        #expect(texts().contains { $0.contains("password *** is in place") }, "\(texts())")
        #expect(texts().contains { $0.contains("rotation to *** needs a check") }, "\(texts())")

        let history = try cli.run("history", "--json")
        let runs = history.json["runs"] as? [[String: Any]] ?? []
        let parentID = try #require(runs.first { $0["runbook"] as? String == "rotate" }?["id"] as? Int, "\(history.stdout)")
        let childID = try #require(runs.first { $0["runbook"] as? String == "apply-password" }?["id"] as? Int, "\(history.stdout)")
        let child = try cli.run("show", "\(childID)", "--json")
        #expect((child.json["params"] as? [String: Any])?["password"] as? String == "***", "\(child.stdout)")
        #expect(child.stdout.contains("applied ***"), "\(child.stdout)")

        let base = "http://127.0.0.1:\(ports.http)"
        var seen: [String: String] = [
            "run's output": run.stdout + run.stderr, "history --json": history.stdout, "show child --json": child.stdout,
            "show parent --json": try cli.run("show", "\(parentID)", "--json").stdout,
            "outbox --json": try cli.run("outbox", "--json", "--all").stdout,
            "incidents --json": try cli.run("incidents", "--json", "--all").stdout,
        ]
        for path in ["/api/runs", "/api/runs/\(childID)", "/api/runs/\(parentID)", "/api/dashboard"] {
            seen["GET \(path)"] = try await Self.get(base + path)
        }
        #expect(seen["GET /api/runs/\(childID)"]?.contains(#""password":"***""#) == true, "\(seen["GET /api/runs/\(childID)"] ?? "")")
        #expect(seen["GET /api/dashboard"]?.contains("apply-password") == true)

        // Only the owner can read the records and the ticks, with their -wal and -shm.
        for name in ["runbook.db", "ticks.db"] {
            for suffix in ["", "-wal", "-shm"] where FileManager.default.fileExists(atPath: cli.path("var/\(name)\(suffix)")) {
                #expect(Self.mode(cli.path("var/\(name)\(suffix)")) == 0o600, "var/\(name)\(suffix)")
            }
        }
        #expect(Self.mode(cli.path("var/runbook.db")) == 0o600)

        kill(engine.0.processIdentifier, SIGTERM)
        let stopped = try cli.finish(engine)
        #expect(stopped.status == 0)
        seen["engine's log"] = stopped.stdout + stopped.stderr
        for (place, text) in seen.sorted(by: { $0.key < $1.key }) {
            #expect(!text.contains(secret), "the secret is in \(place): \(text)")
        }
        for file in ["runbook.db", "runbook.db-wal"] where FileManager.default.fileExists(atPath: cli.path("var/\(file)")) {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: cli.path("var/\(file)")))
            #expect(bytes.range(of: Data(secret.utf8)) == nil, "the secret is in var/\(file)")
        }
    }
}
