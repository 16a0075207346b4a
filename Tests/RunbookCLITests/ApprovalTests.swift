import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import RunbookTestSupport
import Testing

/// A run waiting for people at an `approve` step: the wait is in the records, answered from the
/// CLI, the API and Telegram, and survives a kill -9 of the engine that ran it.
@Suite(.serialized) struct ApprovalTests {
    static let apiToken = "approvals-test-token-0123456789"

    /// Writes a line per step to acted.txt, so that a step run twice shows.
    static let runbook = """
        name: guarded-restart
        steps:
          - id: before
            shell: 'echo before >> acted.txt'
          - id: ask
            approve:
              message: Restart the MT5 terminal of ea-01?
              approvers: [maria, ann, "telegram:111"]
              min_approvals: 2
            timeout: 10m
          - id: after
            shell: 'echo after >> acted.txt'
        """

    func post(_ port: Int, _ path: String, _ body: [String: Any]) async throws -> (status: Int, json: [String: Any]) {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        request.httpMethod = "POST"
        request.setValue("Bearer \(Self.apiToken)", forHTTPHeaderField: "Authorization")
        request.httpBody = try JSONSerialization.data(withJSONObject: body)
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as? HTTPURLResponse)?.statusCode ?? 0, (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:])
    }

    func waiting(_ cli: CLIHarness) throws -> [Int] {
        ((try cli.run("history", "--status", "waiting", "--json").json["runs"] as? [[String: Any]]) ?? []).compactMap { $0["id"] as? Int }
    }

    func show(_ cli: CLIHarness, _ run: Int) throws -> [String: Any] {
        try cli.run("show", "\(run)", "--json").json
    }

    /// The statuses of a step's attempts, as `show` gives them.
    func attempts(_ cli: CLIHarness, _ run: Int, _ step: String) -> [String] {
        let steps = (try? show(cli, run)["steps"] as? [[String: Any]]) ?? []
        return ((steps.first { $0["id"] as? String == step }?["attempts"] as? [[String: Any]]) ?? []).compactMap { $0["status"] as? String }
    }

    func acted(_ cli: CLIHarness) -> [String] {
        ((try? String(contentsOfFile: cli.path("acted.txt"), encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    @Test func aWaitSurvivesKillDashNineOfTheEngineAndCompletesAfterTheRestart() async throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        let ports = EnginePorts()
        try cli.write("runbook.yaml", ports.config(queue: cli.path("queue.ipc")))
        try cli.write("Runbooks/guarded-restart.yaml", Self.runbook)
        let environment = ["RUNBOOK_API_TOKEN": Self.apiToken]
        var engine = try cli.start(["up", "--log-format", "text"], environment: environment)
        defer { if engine.0.isRunning { kill(engine.0.processIdentifier, SIGKILL) } }
        #expect(await eventually(within: .seconds(30)) { (try? await post(ports.http, "/api/runs", ["runbook": "guarded-restart"]).status) == 202 })
        #expect(await eventually(within: .seconds(20)) { (try? waiting(cli))?.count == 1 })
        let run = try #require(try waiting(cli).first)
        #expect(acted(cli) == ["before"])

        // A first answer while the engine runs it; someone not among the approvers is refused.
        let maria = try cli.run("approve", "\(run)", "--by", "maria", "--reason", "broker confirmed")
        #expect(maria.status == 0 && maria.stdout.contains("run \(run) approved by maria (CLI): 1 of 2 approvals (maria (CLI)); it waits for 1 more"), "\(maria.stdout)\(maria.stderr)")
        let mallory = try cli.run("approve", "\(run)", "--by", "mallory")
        #expect(mallory.status == 2 && mallory.stderr.contains("mallory (CLI) may not answer run \(run)"), "\(mallory.stderr)")
        let again = try cli.run("approve", "\(run)", "--by", "maria")
        #expect(again.stdout.contains("approved by maria (CLI) already"), "one person counts once: \(again.stdout)")

        // Killed while the run waits: the wait stays in the records.
        kill(engine.0.processIdentifier, SIGKILL)
        engine.0.waitUntilExit()
        #expect(try waiting(cli) == [run], "the run still waits after the kill")
        #expect(try show(cli, run)["status"] as? String == "waiting")

        // The engine starts again and takes the wait up, where it waits on for the second approval.
        engine = try cli.start(["up", "--log-format", "text"], environment: environment)
        #expect(await eventually(within: .seconds(30)) { attempts(cli, run, "ask") == ["interrupted", "running"] })
        #expect(acted(cli) == ["before"], "taken up, the run goes on waiting: nothing after the wait ran, nothing before it ran again")
        var answered: (status: Int, json: [String: Any]) = (0, [:])
        #expect(await eventually(within: .seconds(30)) {
            answered = (try? await post(ports.http, "/api/runs/\(run)/approve", ["by": "ann"])) ?? (0, [:])
            return answered.status == 200
        })
        #expect((answered.json["text"] as? String)?.contains("2 of 2 approvals (maria (CLI), ann (API)); the run goes on") == true, "\(answered.json)")
        #expect(await eventually(within: .seconds(20)) { (try? show(cli, run)["status"] as? String) == "succeeded" })
        #expect(acted(cli) == ["before", "after"], "the step before the wait ran once, the one after it once")

        // The record tells the story: the wait interrupted by the kill, taken up again, approved by two.
        #expect(attempts(cli, run, "ask") == ["interrupted", "succeeded"])
        let text = try cli.run("show", "\(run)").stdout
        #expect(text.contains("approval at step 'ask': approved, 2 of 2 approvals") && text.contains("approved by maria (CLI)") && text.contains(": broker confirmed"), "\(text)")
        #expect(try waiting(cli).isEmpty)
        let late = try cli.run("approve", "\(run)", "--reject", "--by", "maria")
        #expect(late.status == 2 && late.stderr.contains("no longer waits"), "\(late.stderr)")

        kill(engine.0.processIdentifier, SIGTERM)
        #expect(try cli.finish(engine).status == 0)
    }

    @Test func aGracefulStopLeavesTheRunWaitingAndAChildRunEndsWithItsParent() async throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        let ports = EnginePorts()
        try cli.write("runbook.yaml", ports.config(queue: cli.path("queue.ipc")))
        try cli.write("Runbooks/guarded-restart.yaml", Self.runbook)
        // The same question inside a runbook another one runs as a step.
        try cli.write("Runbooks/maintenance.yaml", "name: maintenance\nsteps:\n  - id: restart\n    run: guarded-restart\n  - id: verify\n    shell: 'echo verify >> acted.txt'\n")
        let environment = ["RUNBOOK_API_TOKEN": Self.apiToken]
        var engine = try cli.start(["up", "--log-format", "text"], environment: environment)
        defer { if engine.0.isRunning { kill(engine.0.processIdentifier, SIGKILL) } }
        #expect(await eventually(within: .seconds(30)) { (try? await post(ports.http, "/api/runs", ["runbook": "guarded-restart"]).status) == 202 })
        #expect(await eventually(within: .seconds(30)) { (try? await post(ports.http, "/api/runs", ["runbook": "maintenance"]).status) == 202 })
        #expect(await eventually(within: .seconds(20)) { (try? waiting(cli))?.count == 2 })
        let alone = try #require(try waiting(cli).min())
        let child = try #require(try waiting(cli).max())
        let parent = try #require(try show(cli, child)["parent_run_id"] as? Int)

        // Stopped as a service manager stops it: the run alone stays waiting, not cancelled.
        kill(engine.0.processIdentifier, SIGTERM)
        #expect(try cli.finish(engine).status == 0)
        #expect(try show(cli, alone)["status"] as? String == "waiting")

        engine = try cli.start(["up", "--log-format", "text"], environment: environment)
        #expect(await eventually(within: .seconds(30)) { attempts(cli, alone, "ask") == ["interrupted", "running"] })
        // The child waited inside its parent, which stopped with the engine: not taken up alone.
        #expect(await eventually(within: .seconds(20)) { (try? show(cli, child)["status"] as? String) != "waiting" })
        #expect(try show(cli, parent)["status"] as? String != "running")
        #expect(try waiting(cli) == [alone])
        #expect(try cli.run("approve", "\(alone)", "--by", "maria").status == 0)
        #expect(try cli.run("approve", "\(alone)", "--by", "ann").stdout.contains("the run goes on"))
        #expect(await eventually(within: .seconds(20)) { (try? show(cli, alone)["status"] as? String) == "succeeded" })
        #expect(acted(cli) == ["before", "before", "after"], "the lone run went on; the child and its parent did not")
        kill(engine.0.processIdentifier, SIGTERM)
        #expect(try cli.finish(engine).status == 0)
    }

    @Test func aRejectionFailsTheStepAndARunOfTheCommandLineWaitsInTheForeground() async throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        try cli.write("runbook.yaml", "")
        try cli.write("Runbooks/guarded-restart.yaml", Self.runbook)
        let started = try cli.start(["run", "guarded-restart"])
        defer { if started.0.isRunning { kill(started.0.processIdentifier, SIGKILL) } }
        #expect(await eventually(within: .seconds(20)) { (try? waiting(cli))?.count == 1 })
        let run = try #require(try waiting(cli).first)
        let rejected = try cli.run("approve", "\(run)", "--reject", "--by", "ann", "--reason", "market is open")
        #expect(rejected.status == 0 && rejected.stdout.contains("run \(run) rejected by ann (CLI): step 'ask' fails"), "\(rejected.stdout)\(rejected.stderr)")
        let finished = try cli.finish(started)
        #expect(finished.status == 1, "\(finished.stdout)\(finished.stderr)")
        #expect(finished.stdout.contains("rejected by ann (CLI): market is open"), "\(finished.stdout)")
        #expect(acted(cli) == ["before"], "the step after a rejected approval does not run")
        #expect(try show(cli, run)["status"] as? String == "failed")
    }

    @Test func noDecisionByTheTimeoutFailsTheStep() async throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        try cli.write("runbook.yaml", "")
        try cli.write("Runbooks/quick.yaml", """
            name: quick
            steps:
              - id: ask
                approve: {message: go?}
                timeout: 2s
              - id: after
                shell: 'echo after >> acted.txt'
            """)
        let finished = try cli.run("run", "quick")
        #expect(finished.status == 1, "\(finished.stdout)\(finished.stderr)")
        #expect(finished.stdout.contains("no decision within 2s"), "\(finished.stdout)")
        #expect(acted(cli).isEmpty)
        let late = try cli.run("approve", "1", "--by", "ann")
        #expect(late.status == 2 && late.stderr.contains("no longer waits at step 'ask': it stopped waiting"), "\(late.stderr)")
    }

    @Test func anApproveClickOnTheDashboardLetsTheRunGoOn() async throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        let ports = EnginePorts()
        try cli.write("runbook.yaml", ports.config(queue: cli.path("queue.ipc")))
        try cli.write("Runbooks/guarded-restart.yaml", Self.runbook.replacingOccurrences(of: "min_approvals: 2", with: "min_approvals: 1"))
        let engine = try cli.start(["up", "--log-format", "text"], environment: ["RUNBOOK_API_TOKEN": Self.apiToken])
        defer { if engine.0.isRunning { kill(engine.0.processIdentifier, SIGKILL) } }
        #expect(await eventually(within: .seconds(30)) { (try? await post(ports.http, "/api/runs", ["runbook": "guarded-restart"]).status) == 202 })
        #expect(await eventually(within: .seconds(20)) { (try? waiting(cli))?.count == 1 })
        let run = try #require(try waiting(cli).first)

        let said = try DashboardBrowserTests.output(of: "/usr/bin/python3", [
            DashboardBrowserTests.peers.appendingPathComponent("dashboard_approve.py").path, "http://127.0.0.1:\(ports.http)/", String(run), Self.apiToken, "maria",
            cli.folder.appendingPathComponent("selenium-profile").path,
        ])
        let page = try #require(try JSONSerialization.jsonObject(with: said) as? [String: Any], "\(String(decoding: said, as: UTF8.self))")
        #expect(page["failure"] == nil, "\(page)")
        #expect((page["shown"] as? String)?.contains("Restart the MT5 terminal of ea-01?") == true, "\(page)")
        #expect((page["answer"] as? String)?.contains("run \(run) approved by maria (dashboard): 1 of 1 approval") == true, "\(page)")
        #expect(await eventually(within: .seconds(20)) { (try? show(cli, run)["status"] as? String) == "succeeded" })
        #expect(acted(cli) == ["before", "after"])
        kill(engine.0.processIdentifier, SIGTERM)
        #expect(try cli.finish(engine).status == 0)
    }

    @Test func anApprovalFromTheTelegramButtonLetsTheRunGoOn() async throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        let ports = EnginePorts()
        let server = try Peer(script: TelegramButtonTests.botAPI)
        try cli.write("runbook.yaml", ports.config(queue: cli.path("queue.ipc")) + """

            channels:
              ops-telegram: {type: telegram, chat_id: "42", base_url: "http://127.0.0.1:\(server.port)", token_env: TEST_BOT_TOKEN, allowed_users: [111, 333]}
            escalation:
              levels:
                2: {channels: [ops-telegram]}
            """)
        try cli.write("Runbooks/guarded-restart.yaml", Self.runbook)
        let engine = try cli.start(["up", "--log-format", "text"], environment: ["TEST_BOT_TOKEN": EscalationTests.token, "RUNBOOK_API_TOKEN": Self.apiToken])
        defer { if engine.0.isRunning { kill(engine.0.processIdentifier, SIGKILL) } }
        #expect(await eventually { FileManager.default.fileExists(atPath: cli.path("var/telegram-ops-telegram.offset")) })
        #expect(await eventually(within: .seconds(30)) { (try? await post(ports.http, "/api/runs", ["runbook": "guarded-restart"]).status) == 202 })
        #expect(await eventually(within: .seconds(20)) { (try? waiting(cli))?.count == 1 })
        let run = try #require(try waiting(cli).first)

        // The question reaches the chat with Approve and Reject.
        let sent = TelegramButtonTests()
        #expect(await eventually(within: .seconds(20)) { sent.calls(server, "sendMessage").contains { "\($0["reply_markup"] ?? "")".contains("approve:") } })
        let question = try #require(sent.calls(server, "sendMessage").first { "\($0["reply_markup"] ?? "")".contains("approve:") })
        #expect((question["text"] as? String)?.contains("Restart the MT5 terminal of ea-01?") == true, "\(question)")
        let buttons = ((question["reply_markup"] as? [String: Any])?["inline_keyboard"] as? [[[String: Any]]] ?? []).flatMap { $0 }.compactMap { $0["callback_data"] as? String }
        // The buttons name the question (the records' id of the request), not only the run.
        let asked = try #require(try show(cli, run)["approval"] as? [String: Any])
        let id = try #require(asked["id"] as? Int)
        #expect(buttons == ["approve:\(id)", "reject:\(id)"], "\(buttons)")

        func press(_ user: Int, _ name: String, _ data: String) async throws {
            try await sent.control(server, "press", [
                "user": user, "username": name, "data": data, "message_id": 9, "text": question["text"] as? String ?? "", "reply_markup": question["reply_markup"] ?? [:],
            ])
        }
        // On the channel's list but not among the step's approvers: refused, nothing changes.
        try await press(333, "carol", "approve:\(id)")
        #expect(await eventually(within: .seconds(20)) { sent.calls(server, "answerCallbackQuery").count >= 1 })
        #expect((sent.calls(server, "answerCallbackQuery").first?["text"] as? String)?.contains("may not answer run \(run)") == true, "\(sent.calls(server, "answerCallbackQuery"))")
        // An approver on the phone, then one on the command line.
        try await press(111, "ann", "approve:\(id)")
        #expect(await eventually(within: .seconds(20)) { sent.calls(server, "editMessageText").contains { ($0["text"] as? String)?.contains("✔ approved by @ann (Telegram user 111) at ") == true } })
        let maria = try cli.run("approve", "\(run)", "--by", "maria")
        #expect(maria.stdout.contains("2 of 2 approvals (@ann (Telegram user 111), maria (CLI)); the run goes on"), "\(maria.stdout)\(maria.stderr)")
        #expect(await eventually(within: .seconds(20)) { (try? show(cli, run)["status"] as? String) == "succeeded" })
        #expect(acted(cli) == ["before", "after"])
        kill(engine.0.processIdentifier, SIGTERM)
        #expect(try cli.finish(engine).status == 0)
    }
}
