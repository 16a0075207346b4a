import Foundation
import Hummingbird
import HummingbirdTesting
import RunbookChecks
import RunbookApp
import RunbookCore
import RunbookExecutor
import RunbookSQLite
import RunbookFlows
import RunbookModel
import RunbookServer
import Testing

@Suite struct MetricsTests {
    /// A flow store that keeps nothing: the metered store's own behaviour is under test.
    struct Discard: FlowStore {
        func recordHeartbeats(target: String, account: String?, at date: Date, count: Int) throws {}
        func recordSignal(_ signal: FlowMessage.Signal, at date: Date) throws {}
        func recordFireQueued(_ fire: FlowMessage.Fire, at date: Date) throws -> Bool { true }
        func recordFireSent(id: String, at date: Date) throws {}
        func recordFireFailed(id: String, reason: String, at date: Date) throws {}
        func recordConfirmation(_ confirmation: FlowMessage.Confirmation, at date: Date) throws -> ConfirmationOutcome { .applied }
        func recordClose(_ close: FlowMessage.Close, at date: Date) throws -> Bool { true }
        func recordProbe(id: String, at date: Date) throws {}
        func recordPositions(_ report: FlowMessage.Positions, at date: Date) throws {}
        func fireTarget(id: String) throws -> String? { nil }
    }

    static func scrape(_ server: RunbookHTTPServer) async throws -> String {
        try await server.application().test(.router) { client in
            try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType]?.hasPrefix("text/plain; version=0.0.4") == true)
                return response.text
            }
        }
    }

    /// The value of one series, by its name and labels as printed.
    static func value(_ text: String, _ series: String) -> Double? {
        text.split(separator: "\n").first { $0.hasPrefix(series + " ") }.flatMap { Double($0.split(separator: " ").last ?? "") }
    }

    @Test func everyFamilyIsThereAndPromtoolAcceptsTheOutput() async throws {
        let engine = ScriptedEngine()
        engine.update {
            $0.services[0].received = 500
            $0.services[0].sent = 498
            $0.services[0].malformed = ["not_json": 2]
            $0.ticks = TickSnapshot(received: 500, stored: 480, spooled: 20)
        }
        // An incident at level 2, its message waiting for Telegram.
        let incidents = try IncidentFixture()
        try await incidents.open()
        let script = incidents.script()
        script.setCheck("ea-heartbeat", .critical)
        let server = makeServer(engine: engine, script: script)
        let store = MeteredFlowStore(Discard(), metrics: server.metrics)
        let fire = FlowMessage.Fire(id: "F1", target: "ea-01", symbol: "EURUSD", direction: "BUY", lot: 0.1)
        _ = try store.recordFireQueued(fire, at: Date())
        try store.recordFireSent(id: "F1", at: Date())
        guard case .confirmation(let filled) = try FlowMessage.parse(#"{"type":"confirmation","fire_id":"F1","status":"filled","ticket":7,"price":1.0852}"#) else {
            Issue.record("not a confirmation")
            return
        }
        _ = try store.recordConfirmation(filled, at: Date())
        _ = try store.recordFireQueued(FlowMessage.Fire(id: "F2", target: "ea-09", symbol: "EURUSD", direction: "SELL", lot: 0.1), at: Date())
        try store.recordFireFailed(id: "F2", reason: "EA ea-09 is not connected", at: Date())
        // A real run, recorded, with a step of a known length.
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("metrics-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let runbook = try RunbookLoader(catalog: Catalog.steps).load(text: """
            name: ea-lost
            steps:
              - id: probe
                shell: sleep 0.2
              - id: give_up
                shell: exit 3
            """, file: "ea-lost.yaml")
        let executor = Executor(
            registry: Catalog.steps, recorder: try RecordsDatabase(path: folder.appendingPathComponent("runbook.db").path).runs, workingDirectory: folder.path,
            lookup: { _ in runbook }, observer: MeteredRunObserver(metrics: server.metrics)
        )
        let launched = try RunLauncher(executor: executor).start("ea-lost", trigger: .api)
        #expect(await launched.runID == 1)
        #expect(await launched.report.status == .failed)

        let text = try await Self.scrape(server)
        #expect(Self.value(text, #"runbook_flow_messages_total{flow="telemetry-bridge",direction="in"}"#) == 500)
        #expect(Self.value(text, #"runbook_flow_messages_total{flow="telemetry-bridge",direction="out"}"#) == 498)
        #expect(Self.value(text, #"runbook_flow_malformed_total{flow="telemetry-bridge",reason="not_json"}"#) == 2)
        #expect(Self.value(text, #"runbook_fires_total{status="queued"}"#) == 2)
        #expect(Self.value(text, #"runbook_fires_total{status="sent"}"#) == 1)
        #expect(Self.value(text, #"runbook_fires_total{status="filled"}"#) == 1)
        #expect(Self.value(text, #"runbook_fires_total{status="failed"}"#) == 1)
        #expect(Self.value(text, #"runbook_fire_latency_seconds_count{to="sent"}"#) == 1)
        #expect(Self.value(text, #"runbook_fire_latency_seconds_count{to="filled"}"#) == 1)
        #expect(Self.value(text, "runbook_ticks_stored_total") == 480)
        #expect(Self.value(text, "runbook_ticks_spooled_total") == 20)
        #expect(Self.value(text, #"runbook_runs_total{runbook="ea-lost",status="failed"}"#) == 1)
        #expect(Self.value(text, #"runbook_step_duration_seconds_bucket{primitive="shell",status="succeeded",le="+Inf"}"#) == 1)
        #expect(Self.value(text, #"runbook_step_duration_seconds_bucket{primitive="shell",status="succeeded",le="0.1"}"#) == 0)
        #expect(Self.value(text, #"runbook_step_duration_seconds_count{primitive="shell",status="failed"}"#) == 1)
        #expect(Self.value(text, #"runbook_check_status{check="ea-heartbeat",status="critical"}"#) == 1)
        #expect(Self.value(text, #"runbook_check_status{check="ea-heartbeat",status="healthy"}"#) == 0)
        #expect(Self.value(text, #"runbook_incidents_open{level="2",status="open"}"#) == 1)
        #expect(Self.value(text, #"runbook_incidents_open{level="1",status="open"}"#) == 0)
        #expect(Self.value(text, #"runbook_outbox_messages{channel="ops-telegram",state="pending"}"#) == 1)

        let promtool = Process()
        promtool.executableURL = URL(fileURLWithPath: "/usr/bin/promtool")
        promtool.arguments = ["check", "metrics"]
        let input = Pipe()
        let output = Pipe()
        promtool.standardInput = input
        promtool.standardOutput = output
        promtool.standardError = output
        try promtool.run()
        input.fileHandleForWriting.write(Data(text.utf8))
        try input.fileHandleForWriting.close()
        let said = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        promtool.waitUntilExit()
        #expect(promtool.terminationStatus == 0, "promtool check metrics: \(said)")
    }

    @Test func countersMoveByWhatTheFlowsCountedSinceTheLastScrape() async throws {
        let engine = ScriptedEngine()
        engine.update { $0.services[3].received = 10 }
        let server = makeServer(engine: engine)
        let series = #"runbook_flow_messages_total{flow="confirmation-listener",direction="in"}"#
        #expect(Self.value(try await Self.scrape(server), series) == 10)
        engine.update { $0.services[3].received = 25 }
        #expect(Self.value(try await Self.scrape(server), series) == 25)
        // A flow's count that started again (a new engine) moves the counter on, never back.
        engine.update { $0.services[3].received = 4 }
        #expect(Self.value(try await Self.scrape(server), series) == 29)
    }

    @Test func incidentAndOutboxGaugesFollowTheRecords() async throws {
        let incidents = try IncidentFixture(channels: ["ops-telegram", "ops-email"])
        let opened = try await incidents.open()
        let server = makeServer(script: incidents.script())
        var text = try await Self.scrape(server)
        #expect(Self.value(text, #"runbook_incidents_open{level="2",status="open"}"#) == 1)
        #expect(Self.value(text, #"runbook_outbox_messages{channel="ops-email",state="pending"}"#) == 1)
        // Acknowledged: no longer open, still not resolved. Telegram delivered, e-mail unsure.
        try await incidents.desk.acknowledge(opened.id, by: "maria")
        for var entry in try await incidents.records.incidents.outbox(states: [.pending], limit: 10) {
            entry.state = entry.channel == "ops-telegram" ? .delivered : .uncertain
            try await incidents.records.incidents.updateOutbox(entry)
        }
        text = try await Self.scrape(server)
        #expect(Self.value(text, #"runbook_incidents_open{level="2",status="open"}"#) == 0)
        #expect(Self.value(text, #"runbook_incidents_open{level="2",status="acknowledged"}"#) == 1)
        #expect(Self.value(text, #"runbook_outbox_messages{channel="ops-telegram",state="pending"}"#) == 0)
        #expect(Self.value(text, #"runbook_outbox_messages{channel="ops-email",state="pending"}"#) == 0)
        #expect(Self.value(text, #"runbook_outbox_messages{channel="ops-email",state="uncertain"}"#) == 1)
        try await incidents.desk.resolve(opened.id, by: "maria")
        text = try await Self.scrape(server)
        #expect(Self.value(text, #"runbook_incidents_open{level="2",status="acknowledged"}"#) == 0)
    }
}
