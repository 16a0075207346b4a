import Foundation
import Hummingbird
import HummingbirdTesting
import RunbookChecks
import RunbookModel
import RunbookServer
import Testing

@Suite struct HealthTests {
    @Test func healthIsOKWhenEveryFlowIsUpAndNoCheckIsBad() async throws {
        let script = BackendScript()
        script.setCheck("ea-heartbeat", .healthy)
        try await makeServer(script: script).application().test(.router) { client in
            try await client.execute(uri: "/health", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.json["status"] as? String == "healthy")
                #expect(response.headers[.contentType]?.hasPrefix("application/json") == true)
            }
        }
    }

    @Test func aWarningCheckKeeps200ButSaysWarningAndNamesTheCheck() async throws {
        let script = BackendScript()
        script.setCheck("signal-rate", .warning, text: "0.4 signals/hour")
        try await makeServer(script: script).application().test(.router) { client in
            try await client.execute(uri: "/health", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.json["status"] as? String == "warning")
                #expect((response.json["problems"] as? [String])?.contains("check signal-rate: warning (0.4 signals/hour)") == true)
            }
        }
    }

    @Test func aCriticalCheckOrAFlowDownIs503() async throws {
        let script = BackendScript()
        script.setCheck("ea-heartbeat", .critical, text: "412 s since the last heartbeat")
        try await makeServer(script: script).application().test(.router) { client in
            try await client.execute(uri: "/health", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
                #expect(response.json["status"] as? String == "critical")
            }
        }
        let engine = ScriptedEngine()
        engine.update { $0.services[0].state = .gaveUp }
        try await makeServer(engine: engine).application().test(.router) { client in
            try await client.execute(uri: "/health", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
                #expect((response.json["problems"] as? [String])?.first == "flow telemetry-bridge: gave-up")
            }
        }
    }

    @Test func liveAnswersWhateverTheEngineState() async throws {
        let engine = ScriptedEngine()
        engine.update { $0.services = $0.services.map { var s = $0; s.state = .failed; return s } }
        try await makeServer(engine: engine).application().test(.router) { client in
            try await client.execute(uri: "/health/live", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.json["status"] as? String == "alive")
            }
        }
    }

    @Test func readyNeedsEveryFlowBoundAndTheRecordsReachable() async throws {
        let engine = ScriptedEngine()
        let script = BackendScript()
        try await makeServer(engine: engine, script: script).application().test(.router) { client in
            try await client.execute(uri: "/health/ready", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.json["ready"] as? Bool == true)
            }
            script.storeProblem.withLock { $0 = "unable to open database file" }
            engine.update { $0.services[2].problem = "port 5555 is not bound" }
            try await client.execute(uri: "/health/ready", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
                let problems = response.json["problems"] as? [String] ?? []
                #expect(problems.contains("flow command-router is running: port 5555 is not bound"), "\(problems)")
                #expect(problems.contains("records database: unable to open database file"), "\(problems)")
            }
        }
    }

    @Test func detailedListsEveryCheckServiceAndFlowWithCounters() async throws {
        let engine = ScriptedEngine()
        engine.update { $0.services[0].received = 1_200; $0.services[0].sent = 1_190; $0.services[0].malformed = ["not_json": 3] }
        let script = BackendScript()
        script.setCheck("ea-heartbeat", .healthy)
        script.setCheck("no-ticks", .idle)
        try await makeServer(engine: engine, script: script).application().test(.router) { client in
            try await client.execute(uri: "/health/detailed", method: .get) { response in
                #expect(response.status == .ok)
                let checks = (response.json["checks"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
                #expect(Set(checks) == ["ea-heartbeat", "no-ticks"])
                #expect((response.json["services"] as? [Any])?.count == 4)
                let flows = response.json["flows"] as? [[String: Any]] ?? []
                let bridge = flows.first { $0["name"] as? String == "telemetry-bridge" }
                #expect(bridge?["received"] as? Int == 1_200)
                #expect(bridge?["sent"] as? Int == 1_190)
                #expect((bridge?["malformed"] as? [String: Int])?["not_json"] == 3)
            }
        }
    }

    @Test func manyRequestsReadTheEngineStateOncePerInterval() async throws {
        let engine = ScriptedEngine()
        let server = RunbookHTTPServer(settings: HTTPSettings(), token: nil, backend: BackendScript().backend(engine), snapshotMaxAge: .seconds(60))
        try await server.application().test(.router) { client in
            for _ in 0..<50 {
                try await client.execute(uri: "/health", method: .get) { response in #expect(response.status == .ok) }
            }
        }
        #expect(engine.reads.withLock { $0 } == 1)
    }
}
