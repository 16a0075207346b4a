import Foundation
import GRDB
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import RunbookTestSupport
import Testing

/// The dashboard of a running `runbook up --simulate`, loaded in headless Chromium as an
/// operator's browser would, and the HTTP server's start-up refusals.
@Suite(.serialized) struct DashboardBrowserTests {
    static let artifacts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent(".build/artifacts")

    static let peers = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Peers")

    static func status(_ url: String) async -> Int? {
        guard let url = URL(string: url), let (_, response) = try? await URLSession.shared.data(from: url) else { return nil }
        return (response as? HTTPURLResponse)?.statusCode
    }

    /// Chromium's DOM of the page after its script has run for a while.
    static func dom(_ url: String, profile: URL) throws -> String {
        try chromium(["--dump-dom", "--virtual-time-budget=3000", url], profile: profile)
    }

    @discardableResult
    static func chromium(_ arguments: [String], profile: URL) throws -> String {
        String(decoding: try output(of: "/usr/bin/chromium", ["--headless", "--no-sandbox", "--disable-gpu", "--user-data-dir=\(profile.path)"] + arguments), as: UTF8.self)
    }

    /// What a program printed on its standard output, once it has ended.
    static func output(of program: String, _ arguments: [String]) throws -> Data {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: program)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return data
    }

    /// A hop's rate (per second) and total as the page shows them.
    static func hop(_ dom: String, flow: String, service: String, direction: String) -> (rate: Double, total: Int)? {
        let pattern = #"data-flow="\#(flow)" data-service="\#(service)" data-direction="\#(direction)"[\s\S]*?class="rate [a-z]+">([0-9.]+)/s</span>\s*<span class="label total">([0-9,]+) msgs"#
        guard let regex = try? NSRegularExpression(pattern: pattern),
              let match = regex.firstMatch(in: dom, range: NSRange(dom.startIndex..., in: dom)),
              let rate = Range(match.range(at: 1), in: dom).flatMap({ Double(dom[$0]) }),
              let total = Range(match.range(at: 2), in: dom).flatMap({ Int(dom[$0].replacingOccurrences(of: ",", with: "")) })
        else { return nil }
        return (rate, total)
    }

    @Test func theDashboardShowsTheFourFlowsWithRatesThatMove() async throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        let ports = EnginePorts()
        try cli.write("runbook.yaml", ports.config(queue: cli.path("queue.ipc")))
        let engine = try cli.start(["up", "--simulate", "--tick-rate", "50", "--log-format", "text"])
        defer { kill(engine.0.processIdentifier, SIGTERM); _ = try? cli.finish(engine) }
        let base = "http://127.0.0.1:\(ports.http)"
        var ready = false
        for _ in 0..<200 where !ready {
            ready = await Self.status(base + "/health/ready") == 200
            if !ready { try await Task.sleep(for: .milliseconds(100)) }
        }
        let log = (try? String(contentsOf: engine.2, encoding: .utf8)) ?? ""
        #expect(ready, "\(log)")
        let profile = cli.folder.appendingPathComponent("chromium")

        // Rates need two samples of the counters: until then the page shows "…".
        var first = try Self.dom(base + "/", profile: profile)
        let rated = ContinuousClock.now + .seconds(20)
        while Self.hop(first, flow: "market-data", service: "telemetry-bridge", direction: "in") == nil, ContinuousClock.now < rated {
            first = try Self.dom(base + "/", profile: profile)
        }
        for flow in ["market-data", "signals", "fire-execution", "confirmation"] {
            #expect(first.contains(#"<div class="flow" data-flow="\#(flow)">"#), "flow \(flow) missing from the page")
        }
        let before = try #require(Self.hop(first, flow: "market-data", service: "telemetry-bridge", direction: "in"), "no market data rate on the page:\n\(first.prefix(3000))")
        #expect(before.rate > 0)
        // Read the page again until the numbers it shows have moved on.
        var after = before
        let deadline = ContinuousClock.now + .seconds(20)
        while after.total == before.total, ContinuousClock.now < deadline {
            after = Self.hop(try Self.dom(base + "/", profile: profile), flow: "market-data", service: "telemetry-bridge", direction: "in") ?? after
        }
        #expect(after.total > before.total, "ticks shown: \(before.total) then \(after.total)")
        #expect(after.rate > 0)

        try FileManager.default.createDirectory(at: Self.artifacts, withIntermediateDirectories: true)
        let screenshot = Self.artifacts.appendingPathComponent("dashboard.png")
        try? FileManager.default.removeItem(at: screenshot)
        try Self.chromium(["--screenshot=\(screenshot.path)", "--window-size=1400,1100", "--virtual-time-budget=3000", base + "/"], profile: profile)
        let size = (try? FileManager.default.attributesOfItem(atPath: screenshot.path)[.size] as? Int) ?? 0
        #expect(size > 20_000, "screenshot \(screenshot.path) is \(size) bytes")
        print("dashboard screenshot: \(screenshot.path)")
    }

    /// Two minutes of the full simulation: the simulated web app turns signals into fires, the
    /// simulated EAs fill and close them, and the dashboard shows all four flows carrying traffic,
    /// with trades, a win rate and the canary's round trip behind them.
    @Test func twoMinutesOfTheSimulationShowTrafficOnAllFourFlowsTradesWinRatesAndTheCanary() async throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        let ports = EnginePorts()
        try cli.write("runbook.yaml", ports.config(queue: cli.path("queue.ipc")))
        try cli.copyShipped("Checks", "Runbooks")
        // Half the default tick rate: still a signal per symbol every 20 s, and half the load on a
        // machine running the whole suite.
        let engine = try cli.start(["up", "--simulate", "--eas", "2", "--tick-rate", "10", "--log-format", "text"])
        defer { kill(engine.0.processIdentifier, SIGTERM); _ = try? cli.finish(engine) }
        func log() -> String { String(((try? String(contentsOf: engine.2, encoding: .utf8)) ?? "").suffix(4000)) }
        // Under a full suite's load on two cores the engine and its simulators take a while to start.
        let base = "http://127.0.0.1:\(ports.http)"
        #expect(await eventually(within: .seconds(90)) { await Self.status(base + "/health/ready") == 200 }, "the engine answers: \(log())")
        try await Task.sleep(for: .seconds(120))
        let records = try DatabaseQueue(path: cli.path("var/runbook.db"))
        let (fires, filled, trades, targets) = try await records.read { db in
            (
                try Int.fetchOne(db, sql: "SELECT count(*) FROM fires WHERE fire_id LIKE 'web-%'") ?? 0,
                try Int.fetchOne(db, sql: "SELECT count(*) FROM fires WHERE fire_id LIKE 'web-%' AND status = 'FILLED'") ?? 0,
                try Int.fetchOne(db, sql: "SELECT count(*) FROM trades WHERE fire_id LIKE 'web-%'") ?? 0,
                try String.fetchAll(db, sql: "SELECT DISTINCT target_uuid FROM fires WHERE fire_id LIKE 'web-%' ORDER BY 1")
            )
        }
        print("two minutes of the simulation: \(fires) fires from signals, \(filled) filled, \(trades) trades")
        #expect(fires >= 10 && filled > 0 && trades >= 10, "fires \(fires), filled \(filled), trades \(trades); the engine's log: \(log())")
        #expect(targets == ["ea-01", "ea-02"], "the web app fires at both EAs in turn")

        func check(_ name: String) throws -> [String: Any] {
            let result = try cli.run("check", name, "--json")
            return (try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]])?.first ?? ["text": result.stdout + result.stderr]
        }
        let winRate = try check("win-rate")
        #expect(winRate["value"] as? Double != nil && winRate["status"] as? String != "unknown", "a win rate exists: \(winRate)")
        let canary = try check("fire-round-trip")
        // During market hours the simulated ea-01 answers the canary; outside them the check is idle.
        #expect(canary["status"] as? String == "healthy" || (canary["status"] as? String == "idle" && (canary["text"] as? String)?.contains("market") == true), "\(canary)")
        let reconciliation = try check("reconciliation")
        #expect(reconciliation["status"] as? String == "healthy", "the simulated EAs' positions agree with the records: \(reconciliation)")

        let dom = try Self.dom(base + "/", profile: cli.folder.appendingPathComponent("chromium"))
        let hops: [(String, String, String)] = [
            ("market-data", "telemetry-bridge", "in"), ("market-data", "telemetry-bridge", "out"), ("signals", "signal-relay", "in"),
            ("fire-execution", "command-router", "in"), ("fire-execution", "command-router", "out"),
            ("confirmation", "confirmation-listener", "in"), ("confirmation", "confirmation-listener", "out"),
        ]
        for (flow, service, direction) in hops {
            let hop = Self.hop(dom, flow: flow, service: service, direction: direction)
            #expect((hop?.total ?? 0) > 0, "\(flow) \(service) \(direction): \(String(describing: hop))")
        }
    }

    @Test func anAcknowledgeClickOnTheDashboardIsRecordedOnTheIncident() async throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        let ports = EnginePorts()
        try cli.write("runbook.yaml", ports.config(queue: cli.path("queue.ipc")))
        // No runbook: the incident goes straight to level 2, for people.
        try cli.write("Checks/ea-heartbeat.yaml", "name: ea-heartbeat\nprobe: ea_heartbeat\ncritical: \"> 2s\"\ninterval: 500ms\nhysteresis: {fail: 1, recover: 1}\n")
        let token = "dash-\(UUID().uuidString)"
        let engine = try cli.start(
            ["up", "--simulate", "--log-format", "text", "--fault", "stop-heartbeats-after=1s"], environment: ["RUNBOOK_API_TOKEN": token]
        )
        defer { kill(engine.0.processIdentifier, SIGTERM); _ = try? cli.finish(engine) }
        var opened: [String: Any]?
        let deadline = ContinuousClock.now + .seconds(40)
        while opened == nil, ContinuousClock.now < deadline {
            opened = (try? cli.run("incidents", "--json").json["incidents"] as? [[String: Any]])?.first
            if opened == nil { try await Task.sleep(for: .milliseconds(300)) }
        }
        let incident = try #require(opened, "no incident opened: \((try? String(contentsOf: engine.2, encoding: .utf8)) ?? "")")
        let id = try #require(incident["id"] as? Int)
        #expect(incident["status"] as? String == "open")

        // An operator's browser, driven by Selenium: see Peers/dashboard_ack.py.
        let said = try Self.output(of: "/usr/bin/python3", [
            Self.peers.appendingPathComponent("dashboard_ack.py").path, "http://127.0.0.1:\(ports.http)/", String(id), token, "maria",
            cli.folder.appendingPathComponent("selenium-profile").path,
        ])
        let page = try #require(try JSONSerialization.jsonObject(with: said) as? [String: Any], "\(String(decoding: said, as: UTF8.self))")
        #expect(page["failure"] == nil, "\(page)")
        #expect(page["shown_before"] as? String == "open")
        // A wrong token: the page says so and nothing changes.
        #expect((page["wrong_token_error"] as? String)?.contains("token") == true, "\(page)")
        #expect(page["status_after_wrong_token"] as? String == "open")
        #expect(page["shown_after"] as? String == "acknowledged by maria (dashboard)", "\(page)")
        #expect(page["buttons_after"] as? Int == 0)

        // In the records, as `runbook incident` reads them from another process.
        let stored = try cli.run("incident", String(id), "--json").json
        #expect(stored["status"] as? String == "acknowledged" && stored["acknowledged_by"] as? String == "maria (dashboard)", "\(stored)")
        let timeline = stored["timeline"] as? [[String: Any]] ?? []
        #expect(timeline.contains { $0["kind"] as? String == "acknowledged" && $0["actor"] as? String == "maria (dashboard)" })
    }

    @Test func anHTTPPortInUseStopsTheStartAndNamesThePort() async throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        let ports = EnginePorts()
        try cli.write("runbook.yaml", ports.config(queue: cli.path("queue.ipc")))
        let holder = try PortSquatter(port: ports.http)
        #expect(await eventually { isListening(ports.http) })
        let up = try cli.run("up", "--log-format", "text")
        #expect(up.status == 1)
        #expect(up.stderr.contains("cannot start the HTTP server: port \(ports.http) is already in use on 127.0.0.1 (held by pid \(holder.pid)"), "\(up.stderr)")
        #expect(!isListening(ports.ticks), "the flows were left bound when the start failed")
        withExtendedLifetime(holder) {}
    }

    @Test func listeningBeyondLoopbackWithoutATokenIsRefused() throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        let ports = EnginePorts()
        try cli.write("runbook.yaml", ports.config(queue: cli.path("queue.ipc")).replacingOccurrences(of: "listen: 127.0.0.1:", with: "listen: 0.0.0.0:"))
        let up = try cli.run("up", "--log-format", "text")
        #expect(up.status == 1)
        #expect(up.stderr.contains("is not a loopback address and no API token is set: set RUNBOOK_API_TOKEN"), "\(up.stderr)")
    }
}
