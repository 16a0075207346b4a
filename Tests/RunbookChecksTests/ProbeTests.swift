import Foundation
import RunbookApp
import RunbookChecks
import RunbookCore
import RunbookFlows
import RunbookModel
import RunbookSQLite
import RunbookSteps
import RunbookTestSupport
import Testing

/// A scratch folder with a records database, and checks evaluated against it.
struct ProbeHarness {
    let folder: URL
    let records: RecordsDatabase
    var now = Date()

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("probes-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        records = try RecordsDatabase(path: folder.appendingPathComponent("runbook.db").path)
    }

    func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    func evaluate(_ yaml: String, engine: (any EngineControl)? = nil) async throws -> CheckResult {
        let check = try CheckLoader(probes: Catalog.probes).load(text: "name: probe-test\n" + yaml, file: "test.yaml")
        let now = self.now
        let environment = EngineServices(
            engine: engine, records: records.flows, workingDirectory: folder.path, databasePath: path("runbook.db"), now: { now }
        )
        return await CheckEvaluator(probes: Catalog.probes, environment: environment).evaluate(check)
    }

    func remove() { try? FileManager.default.removeItem(at: folder) }
}

@Suite struct SystemProbeTests {
    @Test func aPortIsBoundOnlyWhileAProgramListensOnIt() async throws {
        let harness = try ProbeHarness()
        defer { harness.remove() }
        let port = Int.random(in: 33_000..<33_500)
        let free = try await harness.evaluate("probe: {port: \(port)}")
        #expect(free.status == .critical && free.text == "not bound: \(port)")
        let squatter = try PortSquatter(port: port)
        #expect(await eventually { Listeners.isListening(port) })
        let bound = try await harness.evaluate("probe: {port: \(port)}")
        #expect(bound.status == .healthy && bound.value == 0)
        withExtendedLifetime(squatter) {}
    }

    @Test func aStaleFileTurnsTheAgeCheckWarningThenCritical() async throws {
        let harness = try ProbeHarness()
        defer { harness.remove() }
        try FileManager.default.createDirectory(atPath: harness.path("tracking"), withIntermediateDirectories: true)
        for (name, hours) in [("ea1.jsonl", 3.0), ("ea2.jsonl", 5.0)] {
            try Data("{}\n".utf8).write(to: harness.folder.appendingPathComponent("tracking/\(name)"))
            try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(-hours * 3600)], ofItemAtPath: harness.path("tracking/\(name)"))
        }
        let limits = "warning: \"> 2h\"\ncritical: \"> 4h\"\n"
        let newest = try await harness.evaluate("probe: {file_age: tracking/*.jsonl}\n" + limits)
        #expect(newest.status == .warning && newest.subject == "ea1.jsonl")
        #expect(abs((newest.value ?? 0) - 3 * 3600) < 60)
        let oldest = try await harness.evaluate("probe: {file_age: {path: tracking/*.jsonl, which: oldest}}\n" + limits)
        #expect(oldest.status == .critical && oldest.subject == "ea2.jsonl")
        let none = try await harness.evaluate("probe: {file_age: nothing/*.jsonl}\n" + limits)
        #expect(none.status == .critical && none.text.hasPrefix("no file matches"))
    }

    @Test func aStoppedProcessIsCriticalByPidFileAndByCommandLine() async throws {
        let harness = try ProbeHarness()
        defer { harness.remove() }
        let marker = "probe-\(UUID().uuidString.prefix(8))"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = ["-c", "exec -a \(marker) sleep 60"]
        try process.run()
        try String(process.processIdentifier).write(toFile: harness.path("engine.pid"), atomically: true, encoding: .utf8)
        #expect(await eventually { (try? String(contentsOfFile: "/proc/\(process.processIdentifier)/cmdline", encoding: .utf8))?.contains(marker) == true })
        #expect(try await harness.evaluate("probe: {process: {pid_file: engine.pid}}").status == .healthy)
        #expect(try await harness.evaluate("probe: {process: {match: \(marker)}}").value == 1)
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let stopped = try await harness.evaluate("probe: {process: {pid_file: engine.pid}}")
        #expect(stopped.status == .critical && stopped.text.contains("not running"))
        #expect(try await harness.evaluate("probe: {process: {match: \(marker)}}").status == .critical)
    }

    @Test func diskFreeIsTheFileSystemsShare() async throws {
        let harness = try ProbeHarness()
        defer { harness.remove() }
        var stats = statvfs()
        statvfs(harness.folder.path, &stats)
        let expected = Double(stats.f_bavail) / Double(stats.f_blocks) * 100
        let result = try await harness.evaluate("probe: {disk_free: .}\ncritical: \"< \(Int(expected) + 2)%\"")
        #expect(abs((result.value ?? -1) - expected) < 1)
        #expect(result.status == .critical)
    }

    @Test func cpuAndMemoryAreSharesOfTheMachine() async throws {
        let harness = try ProbeHarness()
        defer { harness.remove() }
        let cpu = try await harness.evaluate("probe: {cpu: {sample: 100ms}}")
        #expect((0...100).contains(cpu.value ?? -1) && cpu.text.hasSuffix("% busy"))
        let machine = try await harness.evaluate("probe: {memory: {}}")
        #expect((0...100).contains(machine.value ?? -1))
        // This process, by its pid file: its resident size as a share of the machine.
        try String(getpid()).write(toFile: harness.path("me.pid"), atomically: true, encoding: .utf8)
        let me = try await harness.evaluate("probe: {memory: {pid_file: me.pid}}\nwarning: \"> 0%\"")
        #expect(me.status == .warning && (me.value ?? 100) < (machine.value ?? 0) && me.text.hasSuffix("MB resident"))
    }

    @Test func anHTTPEndpointIsHealthyOnlyWithTheExpectedStatus() async throws {
        let harness = try ProbeHarness()
        defer { harness.remove() }
        let port = Int.random(in: 34_000..<34_500)
        let server = Process()
        server.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        server.arguments = ["-m", "http.server", String(port), "--bind", "127.0.0.1", "--directory", harness.folder.path]
        server.standardError = FileHandle.nullDevice
        try server.run()
        defer { kill(server.processIdentifier, SIGKILL); server.waitUntilExit() }
        #expect(await eventually { Listeners.isListening(port) })
        let ok = try await harness.evaluate("probe: {http: \"http://127.0.0.1:\(port)/runbook.db\"}")
        #expect(ok.status == .healthy && ok.text.hasPrefix("200 in"))
        let missing = try await harness.evaluate("probe: {http: \"http://127.0.0.1:\(port)/nothing\"}")
        #expect(missing.status == .critical && missing.text == "answered 404, expected 2xx")
        kill(server.processIdentifier, SIGKILL)
        server.waitUntilExit()
        let down = try await harness.evaluate("probe: {http: \"http://127.0.0.1:\(port)/\"}")
        #expect(down.status == .critical && down.text.hasPrefix("no answer"))
    }

    @Test func aDatabaseThatIsNotOneIsCritical() async throws {
        let harness = try ProbeHarness()
        defer { harness.remove() }
        let good = try await harness.evaluate("probe: {sqlite: {}}")
        #expect(good.status == .healthy && good.text.contains("quick_check ok"))
        try Data(repeating: 0x41, count: 8192).write(to: harness.folder.appendingPathComponent("broken.db"))
        let broken = try await harness.evaluate("probe: {sqlite: broken.db}")
        #expect(broken.status == .critical)
    }

    @Test func aSQLValueIsComparedWithItsLimits() async throws {
        let harness = try ProbeHarness()
        defer { harness.remove() }
        _ = try harness.records.flows.recordFireQueued(FlowMessage.Fire(id: "F1", target: "ea-1", symbol: "EURUSD", direction: "BUY", lot: 0.1), at: Date())
        let result = try await harness.evaluate("probe: {sql: \"SELECT count(*) FROM fires WHERE status = 'QUEUED'\"}\ncritical: \"> 0\"")
        #expect(result.status == .critical && result.value == 1)
        let queue = try await harness.evaluate("probe: {queue_depth: {}}\nwarning: \"> 0\"")
        #expect(queue.status == .warning && queue.text.hasPrefix("1 fire(s) queued"))
    }
}

@Suite struct RecordProbeTests {
    func message(_ json: String) throws -> FlowMessage { try FlowMessage.parse(json) }

    @Test func theStalestEAsHeartbeatDecides() async throws {
        var harness = try ProbeHarness()
        defer { harness.remove() }
        let never = try await harness.evaluate("probe: ea_heartbeat")
        #expect(never.status == .unknown && never.text == "no EA has ever sent a heartbeat")
        try harness.records.flows.recordHeartbeats(target: "ea-fresh", account: nil, at: harness.now.addingTimeInterval(-10), count: 1)
        try harness.records.flows.recordHeartbeats(target: "ea-stale", account: nil, at: harness.now.addingTimeInterval(-200), count: 1)
        let warning = try await harness.evaluate("probe: ea_heartbeat")
        #expect(warning.status == .warning && warning.subject == "ea-stale")
        harness.now = harness.now.addingTimeInterval(150)
        let critical = try await harness.evaluate("probe: ea_heartbeat")
        #expect(critical.status == .critical && critical.subject == "ea-stale")
        let one = try await harness.evaluate("probe: {ea_heartbeat: ea-fresh}")
        #expect(one.status == .warning && one.subject == "ea-fresh" && abs((one.value ?? 0) - 160) < 0.01)
    }

    @Test func signalFreshnessAndRateComeFromTheRecords() async throws {
        let harness = try ProbeHarness()
        defer { harness.remove() }
        for minutesAgo in [150.0, 100, 50] {
            guard case .signal(let signal) = try message(#"{"type":"signal","signal_id":"S\#(Int(minutesAgo))","symbol":"EURUSD","direction":"BUY"}"#) else { return }
            try harness.records.flows.recordSignal(signal, at: harness.now.addingTimeInterval(-minutesAgo * 60))
        }
        let fresh = try await harness.evaluate("probe: {freshness: signals}\nwarning: \"> 2h\"\ncritical: \"> 3h\"")
        #expect(fresh.status == .healthy && abs((fresh.value ?? 0) - 3000) < 1)
        let tight = try await harness.evaluate("probe: {freshness: signal}\ncritical: \"> 30m\"")
        #expect(tight.status == .critical)
        // Two signals in the last two hours: one per hour.
        let rate = try await harness.evaluate("probe: {rate: {of: signals, window: 2h, per: 1h}}\nwarning: \"< 1\"")
        #expect(rate.value == 1 && rate.status == .healthy)
        // Records younger than a quarter of the window say nothing yet about a day.
        let young = try await harness.evaluate("probe: {rate: {of: signals, window: 24h, per: 1d}}\nwarning: \"< 52\"\ncritical: \"< 39\"")
        #expect(young.status == .unknown && young.text.contains("since the records began 2h30m ago: too little to judge"), "\(young.text)")
        // With records from 30 hours ago, the whole day counts: three signals in it.
        guard case .signal(let old) = try message(#"{"type":"signal","signal_id":"S-old","symbol":"EURUSD","direction":"BUY"}"#) else { return }
        try harness.records.flows.recordSignal(old, at: harness.now.addingTimeInterval(-30 * 3600))
        let day = try await harness.evaluate("probe: {rate: {of: signals, window: 24h, per: 1d}}\nwarning: \"< 52\"\ncritical: \"< 39\"")
        #expect(day.value == 3 && day.status == .critical)
        // Two days asked, 30 hours of records: measured over them, four signals.
        let twoDays = try await harness.evaluate("probe: {rate: {of: signals, window: 48h, per: 1d}}\ncritical: \"< 1\"")
        #expect(twoDays.value.map { abs($0 - 3.2) < 0.01 } == true, "4 signals over the 30 h of records: \(twoDays.text)")
    }

    /// The flows write while a probe reads: a first record newer than the instant the probe
    /// measures to is an empty span (too little to judge), never a crash.
    @Test func aRateWhoseFirstRecordIsNewerThanItsNowIsTooYoungToJudge() async throws {
        var harness = try ProbeHarness()
        defer { harness.remove() }
        guard case .signal(let signal) = try message(#"{"type":"signal","signal_id":"S1","symbol":"EURUSD","direction":"BUY"}"#) else { return }
        try harness.records.flows.recordSignal(signal, at: harness.now.addingTimeInterval(2))
        harness.now = harness.now.addingTimeInterval(-1)
        let rate = try await harness.evaluate("probe: {rate: {of: signals, window: 24h, per: 1d}}\nwarning: \"< 52\"")
        #expect(rate.status == .unknown && rate.text.contains("too little to judge"), "\(rate.text)")
    }

    @Test func aWinRateNeedsEnoughTradesAndReportsTheWorstGroup() async throws {
        let harness = try ProbeHarness()
        defer { harness.remove() }
        func trade(_ id: String, _ symbol: String, pnl: Double) throws {
            _ = try harness.records.flows.recordFireQueued(FlowMessage.Fire(id: id, target: "ea-1", symbol: symbol, direction: "BUY", lot: 0.1), at: Date())
            guard case .close(let close) = try message(#"{"type":"close","fire_id":"\#(id)","pnl":\#(pnl)}"#) else { return }
            #expect(try harness.records.flows.recordClose(close, at: Date()))
        }
        for index in 0..<5 { try trade("E\(index)", "EURUSD", pnl: 10) }
        let few = try await harness.evaluate("probe: {win_rate: {last: 50, min_trades: 10}}")
        #expect(few.status == .unknown && few.text.contains("fewer than 10"))
        // EURUSD wins 10 of 10, GBPUSD 7 of 10: 85 % overall, 70 % for the worst symbol.
        for index in 5..<10 { try trade("E\(index)", "EURUSD", pnl: 5) }
        for index in 0..<10 { try trade("G\(index)", "GBPUSD", pnl: index < 7 ? 3 : -4) }
        let all = try await harness.evaluate("probe: {win_rate: {last: 50, min_trades: 10}}")
        #expect(all.value == 85 && all.status == .healthy)
        let bySymbol = try await harness.evaluate("probe: {win_rate: {last: 50, min_trades: 10, by: symbol}}")
        #expect(bySymbol.value == 70 && bySymbol.subject == "GBPUSD" && bySymbol.status == .critical)
    }

    @Test func tradingSessionsFollowEachCitysBusinessHours() {
        let formatter = ISO8601DateFormatter()
        // 13:00 UTC in July: London 14:00 and New York 09:00, so both and their overlap.
        #expect(TradingSession.sessions(at: formatter.date(from: "2026-07-15T13:00:00Z")!) == [.london, .newYork, .overlap])
        // 02:00 UTC: Tokyo 11:00.
        #expect(TradingSession.sessions(at: formatter.date(from: "2026-07-15T02:00:00Z")!) == [.asian])
        // 20:00 UTC in January: New York 15:00 only.
        #expect(TradingSession.sessions(at: formatter.date(from: "2026-01-15T20:00:00Z")!) == [.newYork])
    }
}

@Suite struct MarketHoursTests {
    @Test(arguments: [
        // Friday 16:59 and 17:01 New York (EST), Sunday 16:59 and 17:01; the silence counts from
        // the Sunday open, not over the weekend: critical only three hours into the week.
        ("2026-01-09T21:59:00Z", CheckStatus.critical), ("2026-01-09T22:01:00Z", .idle),
        ("2026-01-11T21:59:00Z", .idle), ("2026-01-11T22:01:00Z", .healthy), ("2026-01-12T01:01:00Z", .critical),
    ])
    func aMarketCheckIsIdleFromTheFridayCloseToTheSundayOpen(instant: String, expected: CheckStatus) async throws {
        var harness = try ProbeHarness()
        defer { harness.remove() }
        harness.now = ISO8601DateFormatter().date(from: instant)!
        // No signal since the week opened.
        let result = try await harness.evaluate("probe: {freshness: signal}\ncritical: \"> 3h\"\nduring: market")
        #expect(result.status == expected)
    }
}
