import Foundation
import Hummingbird
import HummingbirdTesting
import RunbookCore
import RunbookModel
import RunbookSQLite
import RunbookServer
import Testing

/// The kill switch through the API: changes need the token and a reason to close; a closed gate
/// is said first on the health endpoints and the dashboard.
@Suite struct GateAPITests {
    static let token = "gate-\(UUID().uuidString)"
    static var auth: HTTPFields { [.authorization: "Bearer \(token)", .contentType: "application/json"] }

    @Test func theGateIsClosedAndOpenedWithTheTokenAndAClosedGateShowsOnTheHealthEndpoints() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("gate-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let records = try RecordsDatabase(path: folder.appendingPathComponent("runbook.db").path)
        let gate = FireGate()
        let script = BackendScript()
        var backend = script.backend(ScriptedEngine())
        backend.gate = GateKeeper(store: records.flows, gate: gate)
        let server = RunbookHTTPServer(settings: HTTPSettings(), token: Self.token, backend: backend, snapshotMaxAge: .zero)
        try await server.application().test(.router) { client in
            try await client.execute(uri: "/api/gate/close", method: .post, headers: [.contentType: "application/json"], body: ByteBuffer(string: #"{"reason": "x"}"#)) { response in
                #expect(response.status == .unauthorized, "no token, no change")
            }
            try await client.execute(uri: "/api/gate/close", method: .post, headers: Self.auth, body: ByteBuffer(string: #"{"by": "ann"}"#)) { response in
                #expect(response.status == .badRequest)
                #expect((response.json["error"] as? String)?.contains("reason is required") == true, "\(response.json)")
            }
            #expect(gate.closedReason == nil, "nothing closed by refused calls")
            try await client.execute(
                uri: "/api/gate/close", method: .post, headers: Self.auth, body: ByteBuffer(string: #"{"reason": "broker maintenance", "by": "ann", "via": "dashboard"}"#)
            ) { response in
                #expect(response.status == .ok)
                #expect(response.json["closed"] as? Bool == true && response.json["via"] as? String == "dashboard")
            }
            #expect(gate.closedReason == "broker maintenance", "the engine's router sees it at once")
            try await client.execute(uri: "/health/detailed", method: .get) { response in
                #expect(response.status == .ok, "closed on purpose: a warning, not an outage")
                #expect(response.json["status"] as? String == "warning")
                let problems = response.json["problems"] as? [String] ?? []
                #expect(problems.first?.contains("by ann (dashboard): broker maintenance: fires fail and reach no EA") == true, "\(problems)")
                let shown = response.json["gate"] as? [String: Any] ?? [:]
                #expect(shown["closed"] as? Bool == true && shown["by"] as? String == "ann" && shown["reason"] as? String == "broker maintenance")
            }
            try await client.execute(uri: "/api/dashboard", method: .get) { response in
                let overview = response.json["overview"] as? [String: Any] ?? [:]
                #expect((overview["gate"] as? [String: Any])?["closed"] as? Bool == true)
            }
            try await client.execute(uri: "/api/gate/open", method: .post, headers: Self.auth, body: ByteBuffer(string: #"{"by": "bob"}"#)) { response in
                #expect(response.status == .ok && response.json["closed"] as? Bool == false)
            }
            try await client.execute(uri: "/health/detailed", method: .get) { response in
                #expect(response.json["status"] as? String == "healthy")
                #expect((response.json["problems"] as? [String])?.isEmpty == true)
            }
            try await client.execute(uri: "/api/gate", method: .get) { response in
                #expect(response.json["closed"] as? Bool == false)
                let changes = response.json["changes"] as? [[String: Any]] ?? []
                #expect(changes.map { $0["by"] as? String ?? "" } == ["bob", "ann"])
            }
        }
        // In the records, where the engine reads it when it starts again.
        #expect(try await records.flows.gate()?.by == "bob")
    }

    @Test func aReadOfTheRecordsThatStartedBeforeACloseDoesNotReopenTheGate() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("gate-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let records = try RecordsDatabase(path: folder.appendingPathComponent("runbook.db").path)
        let gate = FireGate()
        let keeper = GateKeeper(store: records.flows, gate: gate)
        try await keeper.change(closed: false, reason: "", by: "bob", via: "cli", at: Date(timeIntervalSinceNow: -60))
        // The engine's poll reads the records (open)...
        let stale = try await records.flows.gate()
        // ...a person closes the gate meanwhile...
        try await keeper.change(closed: true, reason: "news spike", by: "ann", via: "api")
        // ...and the poll's answer arrives after: the close holds.
        gate.know(stale)
        gate.know(nil)
        #expect(gate.closedReason == "news spike")
        await #expect(throws: GateRefused.self) { try await keeper.change(closed: true, reason: "two\nlines", by: "ann", via: "cli") }
        await #expect(throws: GateRefused.self) { try await keeper.change(closed: false, reason: "", by: "  ", via: "cli") }
        #expect(try await records.flows.gateChanges(limit: 10).count == 2, "refused changes are not recorded")
    }

    @Test func aBodyTheAPICannotReadIsABadRequest() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("gate-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let records = try RecordsDatabase(path: folder.appendingPathComponent("runbook.db").path)
        var backend = BackendScript().backend(ScriptedEngine())
        backend.gate = GateKeeper(store: records.flows, gate: FireGate())
        let server = RunbookHTTPServer(settings: HTTPSettings(), token: Self.token, backend: backend, snapshotMaxAge: .zero)
        try await server.application().test(.router) { client in
            for body in [#"{"reason": 5}"#, #"{"reason": "x", "colour": "red"}"#, "not json", #"{"reason": "x", "via": "telegram"}"#] {
                try await client.execute(uri: "/api/gate/close", method: .post, headers: Self.auth, body: ByteBuffer(string: body)) { response in
                    #expect(response.status == .badRequest, "\(body): \(response.status)")
                }
            }
        }
        #expect(try await records.flows.gate() == nil)
    }
}
