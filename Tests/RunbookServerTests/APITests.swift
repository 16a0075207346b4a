import Foundation
import RunbookApp
import Hummingbird
import HummingbirdTesting
import RunbookChecks
import RunbookModel
import RunbookServer
import Testing

@Suite struct AuthTests {
    static let token = "s3cret-\(UUID().uuidString)"

    /// Every route that is not a read, from the server's own list, so a route added later is
    /// covered without touching this test.
    static var mutatingRoutes: [(method: HTTPRequest.Method, uri: String)] {
        makeServer().routeList().filter { ![.get, .head, .options].contains($0.method) }.map { route in
            (route.method, route.path.replacingOccurrences(of: ":name", with: "telemetry-bridge").replacingOccurrences(of: ":id", with: "1"))
        }
    }

    @Test func thereAreMutatingRoutesToCheck() {
        let routes = Self.mutatingRoutes.map { "\($0.method) \($0.uri)" }
        #expect(routes.contains("POST /api/runs"))
        #expect(routes.contains("POST /api/services/telemetry-bridge/restart"))
        #expect(routes.contains("POST /api/incidents/1/acknowledge"))
        #expect(routes.contains("POST /api/silences"))
        #expect(routes.contains("DELETE /api/silences/windows/1"))
    }

    @Test func everyMutatingRouteRefusesAMissingOrWrongToken() async throws {
        let engine = ScriptedEngine()
        let script = BackendScript()
        try await makeServer(token: Self.token, engine: engine, script: script).application().test(.router) { client in
            for route in Self.mutatingRoutes {
                let body = ByteBuffer(string: #"{"runbook":"ea-lost"}"#)
                for headers: HTTPFields in [[:], [.authorization: "Bearer wrong"], [.authorization: "Basic \(Self.token)"], [.authorization: "Bearer \(Self.token)x"]] {
                    try await client.execute(uri: route.uri, method: route.method, headers: headers, body: body) { response in
                        #expect(response.status == .unauthorized, "\(route.method) \(route.uri) with \(headers)")
                        #expect(response.headers[.wwwAuthenticate] == "Bearer realm=\"runbook\"")
                        #expect((response.json["error"] as? String)?.isEmpty == false)
                        #expect(!response.text.contains(Self.token))
                    }
                }
            }
        }
        #expect(engine.restarted.withLock { $0 }.isEmpty)
        #expect(script.started.withLock { $0 }.isEmpty)
    }

    @Test func withNoTokenConfiguredChangesAreRefusedSayingHowToSetOne() async throws {
        try await makeServer(token: nil).application().test(.router) { client in
            for route in Self.mutatingRoutes {
                try await client.execute(uri: route.uri, method: route.method, headers: [.authorization: "Bearer anything"]) { response in
                    #expect(response.status == .forbidden)
                    #expect((response.json["error"] as? String)?.contains("Set RUNBOOK_API_TOKEN in the engine's environment") == true)
                }
            }
        }
    }

    @Test func aPostToAPathWithNoRouteNeedsTheTokenToo() async throws {
        try await makeServer(token: Self.token).application().test(.router) { client in
            try await client.execute(uri: "/api/incidents/1/ack", method: .post) { response in
                #expect(response.status == .unauthorized)
            }
        }
    }

    @Test func theRightTokenGetsThrough() async throws {
        let engine = ScriptedEngine()
        try await makeServer(token: Self.token, engine: engine).application().test(.router) { client in
            try await client.execute(uri: "/api/services/command-router/restart", method: .post, headers: [.authorization: "Bearer \(Self.token)"]) { response in
                #expect(response.status == .ok)
                #expect(response.json["result"] as? String == "restarted")
            }
        }
        #expect(engine.restarted.withLock { $0 } == ["command-router"])
    }

    @Test func readsNeedNoToken() async throws {
        try await makeServer(token: Self.token).application().test(.router) { client in
            for uri in ["/api/status", "/api/checks", "/api/services", "/api/flows", "/api/runs", "/api/schedules", "/api/dashboard", "/health", "/metrics", "/"] {
                try await client.execute(uri: uri, method: .get) { response in
                    #expect(response.status == .ok, "\(uri)")
                }
            }
        }
    }

    @Test func aNonLoopbackAddressWithoutATokenIsRefused() throws {
        var settings = HTTPSettings()
        settings.host = "0.0.0.0"
        #expect(throws: RunbookHTTPServer.StartFailure.self) { try RunbookHTTPServer.checkSettings(settings, token: nil) }
        #expect(throws: RunbookHTTPServer.StartFailure.self) { try RunbookHTTPServer.checkSettings(settings, token: "") }
        do {
            try RunbookHTTPServer.checkSettings(settings, token: nil)
        } catch {
            #expect(error.description.contains("set RUNBOOK_API_TOKEN"))
        }
        try RunbookHTTPServer.checkSettings(settings, token: "t")
        try RunbookHTTPServer.checkSettings(HTTPSettings(), token: nil)
    }
}

@Suite struct APITests {
    static let token = "api-\(UUID().uuidString)"
    static var auth: HTTPFields { [.authorization: "Bearer \(token)", .contentType: "application/json"] }

    static func run(_ id: Int64, _ runbook: String, status: String = "succeeded") -> RunView {
        RunView(
            id: id, runbook: runbook, trigger: "check", triggerSource: "ea-heartbeat", params: ["password": "***"], startedAt: Date(), status: status,
            steps: [StepView(index: 0, id: "restart", primitive: "restart", attempt: 1, status: "succeeded", startedAt: Date(), durationMs: 812)]
        )
    }

    @Test func runsAreListedWithTheirFiltersAndOneRunWithItsSteps() async throws {
        let script = BackendScript()
        script.runs.withLock { $0 = [Self.run(3, "ea-lost"), Self.run(2, "no-market-data", status: "failed"), Self.run(1, "ea-lost")] }
        try await makeServer(script: script).application().test(.router) { client in
            try await client.execute(uri: "/api/runs?runbook=ea-lost&status=succeeded&limit=5", method: .get) { response in
                #expect(response.status == .ok)
                #expect((response.json["runs"] as? [[String: Any]])?.map { $0["id"] as? Int } == [3, 1])
            }
            #expect(script.runQueries.withLock { $0 }.last == RunQuery(runbook: "ea-lost", status: "succeeded", limit: 5))
            try await client.execute(uri: "/api/runs?limit=0", method: .get) { response in
                #expect(response.status == .badRequest)
                #expect(response.json["error"] as? String == "limit '0' is not a whole number from 1 to 1000")
            }
            try await client.execute(uri: "/api/runs?status=done", method: .get) { response in
                #expect(response.status == .badRequest)
            }
            try await client.execute(uri: "/api/runs/2", method: .get) { response in
                #expect(response.json["runbook"] as? String == "no-market-data")
                #expect(response.json["trigger_source"] as? String == "ea-heartbeat")
                #expect((response.json["params"] as? [String: String])?["password"] == "***")
                let steps = response.json["steps"] as? [[String: Any]] ?? []
                #expect(steps.first?["primitive"] as? String == "restart")
                #expect(steps.first?["duration_ms"] as? Double == 812)
            }
            try await client.execute(uri: "/api/runs/99", method: .get) { response in
                #expect(response.status == .notFound)
            }
            try await client.execute(uri: "/api/runs/abc", method: .get) { response in
                #expect(response.status == .badRequest)
            }
        }
    }

    @Test func aRunbookIsStartedWithItsParametersAndTheAnswerNamesTheRun() async throws {
        let script = BackendScript()
        try await makeServer(token: Self.token, script: script).application().test(.router) { client in
            let body = ByteBuffer(string: #"{"runbook":"ea-lost","params":{"ea":"ea-01","max_age":300,"force":true}}"#)
            try await client.execute(uri: "/api/runs", method: .post, headers: Self.auth, body: body) { response in
                #expect(response.status == .accepted)
                #expect(response.json["run_id"] as? Int == 77)
                #expect(response.json["url"] as? String == "/api/runs/77")
            }
            let started = script.started.withLock { $0 }
            #expect(started.count == 1)
            #expect(started.first?.0 == "ea-lost")
            #expect(started.first?.1 == ["ea": "ea-01", "max_age": "300", "force": "true"])
            try await client.execute(uri: "/api/runs", method: .post, headers: Self.auth, body: ByteBuffer(string: #"{"runbook":"nope"}"#)) { response in
                #expect(response.status == .notFound)
                #expect(response.json["error"] as? String == "no runbook named 'nope'")
            }
            for bad in [#"not json"#, #"{"params":{}}"#, #"{"runbook":"ea-lost","parms":{}}"#, #"{"runbook":"ea-lost","params":{"a":[1]}}"#] {
                try await client.execute(uri: "/api/runs", method: .post, headers: Self.auth, body: ByteBuffer(string: bad)) { response in
                    #expect(response.status == .badRequest, "\(bad)")
                    #expect((response.json["error"] as? String)?.contains(#"{"runbook": "NAME", "params": {"KEY": "VALUE"}}"#) == true, "\(bad)")
                }
            }
        }
    }

    @Test func aRestartIsRefusedForAnUnknownServiceOrWhenTheSupervisorSaysNo() async throws {
        let engine = ScriptedEngine()
        try await makeServer(token: Self.token, engine: engine).application().test(.router) { client in
            try await client.execute(uri: "/api/services/telemetry-bridg/restart", method: .post, headers: Self.auth) { response in
                #expect(response.status == .notFound)
                #expect((response.json["error"] as? String)?.contains("did you mean 'telemetry-bridge'?") == true)
            }
            engine.refuse.withLock { $0 = "restart budget spent: 3 restarts in the last 1h" }
            try await client.execute(uri: "/api/services/telemetry-bridge/restart", method: .post, headers: Self.auth) { response in
                #expect(response.status == .conflict)
                #expect(response.json["error"] as? String == "restart of telemetry-bridge refused: restart budget spent: 3 restarts in the last 1h")
            }
        }
    }

    @Test func flowsServicesChecksAndSchedulesAreReadable() async throws {
        let engine = ScriptedEngine()
        let script = BackendScript()
        script.setCheck("disk-free", .healthy)
        try await makeServer(engine: engine, script: script).application().test(.router) { client in
            try await client.execute(uri: "/api/flows", method: .get) { response in
                let names = (response.json["flows"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
                #expect(names == ["telemetry-bridge", "signal-relay", "command-router", "confirmation-listener"])
            }
            try await client.execute(uri: "/api/services", method: .get) { response in
                #expect((response.json["services"] as? [Any])?.count == 4)
            }
            try await client.execute(uri: "/api/checks", method: .get) { response in
                #expect((response.json["checks"] as? [[String: Any]])?.first?["name"] as? String == "disk-free")
            }
            try await client.execute(uri: "/api/schedules", method: .get) { response in
                let schedule = (response.json["schedules"] as? [[String: Any]])?.first
                #expect(schedule?["runbook"] as? String == "hourly-report")
                #expect((schedule?["next"] as? [String])?.count == 1)
            }
        }
    }

    @Test func ratesFollowTheCountersBetweenSamples() async throws {
        let engine = ScriptedEngine()
        let server = makeServer(engine: engine)
        // Two samples exactly 2 s apart: the snapshot's own time is what rates are worked from.
        let first = Date()
        engine.state.withLock { $0.updatedAt = first }
        try await server.application().test(.router) { client in
            try await client.execute(uri: "/api/flows", method: .get) { _ in }
            engine.state.withLock {
                $0.services[0].received = 300
                $0.updatedAt = first.addingTimeInterval(2)
            }
            try await client.execute(uri: "/api/flows", method: .get) { response in
                let bridge = (response.json["flows"] as? [[String: Any]])?.first
                let rate = bridge?["rate_per_second_in"] as? Double ?? 0
                #expect(rate == 150, "\(String(describing: bridge))")
            }
        }
    }
}

@Suite struct ConfigTests {
    static func load(_ text: String) throws(ValidationFailure) -> EngineConfig {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("http-\(UUID().uuidString).yaml")
        try? text.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        return try EngineConfig.load(path: file.path, environment: [:], channels: Catalog.channels)
    }

    @Test func defaultsAreLoopback8080AndRUNBOOK_API_TOKEN() throws {
        let config = try Self.load("data_dir: var\n")
        #expect(config.http.listen == "127.0.0.1:8080")
        #expect(config.http.tokenVariable == "RUNBOOK_API_TOKEN")
        #expect(config.http.enabled)
        #expect(config.http.isLoopback)
    }

    @Test func listenTokenVariableAndEnabledAreRead() throws {
        let config = try Self.load("http:\n  listen: '[::1]:9090'\n  token_env: OPS_TOKEN\n  enabled: false\n")
        #expect(config.http.host == "::1")
        #expect(config.http.port == 9090)
        #expect(config.http.tokenVariable == "OPS_TOKEN")
        #expect(!config.http.enabled)
    }

    @Test func aBadAddressOrVariableIsAnErrorWithItsPlace() {
        #expect {
            try Self.load("http:\n  listen: localhost\n")
        } throws: { error in
            let text = "\(error)"
            return text.contains(":2:11") && text.contains("write HOST:PORT such as 127.0.0.1:8080")
        }
        #expect {
            try Self.load("http:\n  token_env: 'abc def'\n")
        } throws: { error in
            "\(error)".contains("never the token itself")
        }
        #expect {
            try Self.load("http:\n  lisen: 127.0.0.1:1\n")
        } throws: { error in
            "\(error)".contains("did you mean 'listen'?")
        }
    }
}
