import Foundation
import Hummingbird
import HummingbirdTesting
import RunbookEscalation
import RunbookModel
import RunbookServer
import Testing

@Suite struct IncidentAPITests {
    static let token = "inc-\(UUID().uuidString)"
    static var auth: HTTPFields { [.authorization: "Bearer \(token)", .contentType: "application/json"] }

    func server(_ fixture: IncidentFixture) -> RunbookHTTPServer {
        makeServer(token: Self.token, script: fixture.script())
    }

    @Test func incidentsAreListedWithTheirTimelineAndAnAcknowledgementIsRecorded() async throws {
        let fixture = try IncidentFixture()
        let opened = try await fixture.open()
        try await server(fixture).application().test(.router) { client in
            try await client.execute(uri: "/api/incidents", method: .get) { response in
                let listed = response.json["incidents"] as? [[String: Any]] ?? []
                #expect(listed.count == 1)
                #expect(listed.first?["id"] as? Int == Int(opened.id))
                #expect(listed.first?["status"] as? String == "open" && listed.first?["level"] as? Int == 2)
                #expect(listed.first?["check"] as? String == "market-data")
            }
            try await client.execute(uri: "/api/incidents/\(opened.id)/acknowledge", method: .post, headers: Self.auth, body: ByteBuffer(string: #"{"by": "maria"}"#)) { response in
                #expect(response.status == .ok)
                #expect(response.json["status"] as? String == "acknowledged" && response.json["acknowledged_by"] as? String == "maria (API)")
            }
            try await client.execute(uri: "/api/incidents/\(opened.id)", method: .get) { response in
                let incident = response.json["incident"] as? [String: Any] ?? [:]
                #expect(incident["status"] as? String == "acknowledged")
                let kinds = (response.json["timeline"] as? [[String: Any]] ?? []).map { $0["kind"] as? String ?? "" }
                #expect(kinds.first == "opened" && kinds.contains("acknowledged"), "\(kinds)")
            }
            try await client.execute(uri: "/api/incidents?status=open", method: .get) { response in
                #expect((response.json["incidents"] as? [Any])?.isEmpty == true)
            }
            try await client.execute(uri: "/api/incidents?status=acknowledged", method: .get) { response in
                #expect((response.json["incidents"] as? [Any])?.count == 1)
            }
        }
        // In the records, where `runbook incidents` and the engine read it.
        let stored = try #require(try await fixture.records.incidents.incident(opened.id))
        #expect(stored.status == .acknowledged && stored.acknowledgedBy == "maria (API)", "who, and how")
    }

    @Test func acknowledgingWithNoBodyNamesTheAPIAndUnknownOrResolvedIncidentsAreRefused() async throws {
        let fixture = try IncidentFixture()
        let opened = try await fixture.open()
        try await server(fixture).application().test(.router) { client in
            try await client.execute(uri: "/api/incidents/\(opened.id)/acknowledge", method: .post, headers: Self.auth) { response in
                #expect(response.status == .ok && response.json["acknowledged_by"] as? String == "API")
            }
            try await client.execute(uri: "/api/incidents/99/acknowledge", method: .post, headers: Self.auth) { response in
                #expect(response.status == .notFound)
                #expect((response.json["error"] as? String)?.contains("no incident 99") == true)
            }
            try await client.execute(uri: "/api/incidents/seven/acknowledge", method: .post, headers: Self.auth) { response in
                #expect(response.status == .badRequest)
            }
            try await client.execute(uri: "/api/incidents/\(opened.id)/acknowledge", method: .post, headers: Self.auth, body: ByteBuffer(string: #"{"who": "x"}"#)) { response in
                #expect(response.status == .badRequest)
                #expect((response.json["error"] as? String)?.contains("unknown key 'who'") == true)
            }
            try await fixture.desk.resolve(opened.id, by: "ops")
            try await client.execute(uri: "/api/incidents/\(opened.id)/acknowledge", method: .post, headers: Self.auth) { response in
                #expect(response.status == .conflict)
            }
            try await client.execute(uri: "/api/incidents?status=sleeping", method: .get) { response in
                #expect(response.status == .badRequest)
            }
            try await client.execute(uri: "/api/incidents?status=all", method: .get) { response in
                #expect((response.json["incidents"] as? [[String: Any]])?.first?["status"] as? String == "resolved")
            }
        }
    }

    @Test func maintenanceWindowsAreListedWithTheirNextStartAndOnTheDashboard() async throws {
        let fixture = try IncidentFixture()
        // Every minute for two (as an earlier version could keep it): always in force.
        let always = try await fixture.desk.addWindow(MaintenanceWindow(
            target: "market-data", recurrence: .cron(try CronExpression.parse("* * * * *"), zone: TimeZone(identifier: "Europe/London")!, length: .seconds(120)),
            reason: "broker maintenance", by: "maria", createdAt: Date(), holdRuns: true
        ))
        try await fixture.desk.addWindow(MaintenanceWindow(target: "all", recurrence: .during(.weekend), reason: "weekend", by: "ops", createdAt: Date(), atEnd: .drop))
        try await server(fixture).application().test(.router) { client in
            try await client.execute(uri: "/api/silences", method: .get) { response in
                let windows = response.json["windows"] as? [[String: Any]] ?? []
                #expect(windows.map { $0["target"] as? String } == ["market-data", "all"])
                #expect(windows.first?["id"] as? Int == Int(always.id))
                #expect(windows.first?["in_force"] as? Bool == true && windows.first?["in_force_until"] is String)
                #expect(windows.first?["cron"] as? String == "* * * * *" && windows.first?["zone"] as? String == "Europe/London")
                #expect(windows.first?["hold_runs"] as? Bool == true && windows.first?["next_start"] is String)
                #expect(windows.last?["during"] as? String == "weekend" && windows.last?["at_end"] as? String == "drop")
                #expect((windows.last?["next_start_local"] as? String)?.hasSuffix("17:00 America/New_York") == true, "\(windows)")
                #expect(response.json["silences"] is [Any])
            }
            try await client.execute(uri: "/api/dashboard", method: .get) { response in
                let windows = response.json["windows"] as? [[String: Any]] ?? []
                #expect(windows.count == 2 && windows.first?["in_force"] as? Bool == true, "\(response.text)")
            }
            try await client.execute(uri: "/", method: .get) { response in
                #expect(response.text.contains(#"data-section="windows""#) && response.text.contains("renderWindows"))
            }
        }
    }

    @Test func aMaintenanceWindowIsMadeAndRemovedWithTheToken() async throws {
        let fixture = try IncidentFixture()
        try await server(fixture).application().test(.router) { client in
            let body = ByteBuffer(string: #"{"check": "market-data", "every": "0 22 * * 5", "for": "2h", "tz": "Europe/London", "reason": "broker maintenance", "by": "maria", "hold_runs": true, "at_end": "drop"}"#)
            var id = 0
            try await client.execute(uri: "/api/silences", method: .post, headers: Self.auth, body: body) { response in
                #expect(response.status == .created, "\(response.text)")
                #expect(response.json["target"] as? String == "market-data" && response.json["by"] as? String == "maria (API)")
                #expect(response.json["hold_runs"] as? Bool == true && response.json["at_end"] as? String == "drop")
                #expect((response.json["next_start_local"] as? String)?.hasSuffix("22:00 Europe/London") == true)
                id = response.json["id"] as? Int ?? 0
            }
            for (bad, status, expected) in [
                (#"{"check": "market-data", "every": "0 25 * * 5", "for": "2h", "reason": "x"}"#, HTTPResponse.Status.badRequest, "'25' is not a valid hour"),
                (#"{"check": "market-data", "every": "0 22 * * 5", "reason": "x"}"#, .badRequest, "every needs for"),
                (#"{"check": "market-data", "every": "0 22 * * 5", "for": "2h", "tz": "Mars/Base", "reason": "x"}"#, .badRequest, "unknown time zone 'Mars/Base'"),
                (#"{"check": "market-dat", "during": "weekend", "reason": "x"}"#, .notFound, "did you mean 'market-data'?"),
                (#"{"check": "all", "during": "weekend", "reason": "x", "at_end": "later"}"#, .badRequest, "at_end is send or drop"),
                (#"{"check": "all", "for": "1h", "reason": "x", "tz": "UTC"}"#, .badRequest, "belong to a maintenance window"),
            ] {
                try await client.execute(uri: "/api/silences", method: .post, headers: Self.auth, body: ByteBuffer(string: bad)) { response in
                    #expect(response.status == status, "\(bad)")
                    #expect((response.json["error"] as? String)?.contains(expected) == true, "\(bad): \(response.text)")
                }
            }
            try await client.execute(uri: "/api/silences/windows/\(id)", method: .delete) { response in
                #expect(response.status == .unauthorized)
            }
            try await client.execute(uri: "/api/silences/windows/\(id)", method: .delete, headers: Self.auth) { response in
                #expect(response.status == .ok && response.json["id"] as? Int == id, "\(response.text)")
            }
            try await client.execute(uri: "/api/silences/windows/\(id)", method: .delete, headers: Self.auth) { response in
                #expect(response.status == .notFound && (response.json["error"] as? String)?.contains("GET /api/silences") == true, "\(response.text)")
            }
        }
        #expect(try await fixture.records.incidents.windows().isEmpty)
    }

    @Test func aSilenceIsRecordedOnTheCheckAndItsOpenIncident() async throws {
        let fixture = try IncidentFixture()
        let opened = try await fixture.open()
        try await server(fixture).application().test(.router) { client in
            let body = ByteBuffer(string: #"{"check": "market-data", "for": "2h", "reason": "broker maintenance", "by": "maria"}"#)
            try await client.execute(uri: "/api/silences", method: .post, headers: Self.auth, body: body) { response in
                #expect(response.status == .created)
                #expect(response.json["check"] as? String == "market-data" && response.json["by"] as? String == "maria (API)")
            }
            try await client.execute(uri: "/api/silences", method: .get) { response in
                let listed = response.json["silences"] as? [[String: Any]] ?? []
                #expect(listed.count == 1 && listed.first?["reason"] as? String == "broker maintenance")
            }
            for (bad, status, expected) in [
                (#"{"check": "market-dat", "for": "2h", "reason": "x"}"#, HTTPResponse.Status.notFound, "did you mean 'market-data'?"),
                (#"{"check": "market-data", "for": "soon", "reason": "x"}"#, .badRequest, "not a duration"),
                (#"{"check": "market-data", "for": "2h"}"#, .badRequest, "reason are required"),
                (#"["market-data"]"#, .badRequest, "not a JSON object"),
            ] {
                try await client.execute(uri: "/api/silences", method: .post, headers: Self.auth, body: ByteBuffer(string: bad)) { response in
                    #expect(response.status == status, "\(bad)")
                    #expect((response.json["error"] as? String)?.contains(expected) == true, "\(bad): \(response.text)")
                }
            }
        }
        let silences = try await fixture.records.incidents.silences(activeAt: Date())
        #expect(silences.count == 1)
        let until = try #require(silences.first?.until)
        #expect(abs(until.timeIntervalSinceNow - 7200) < 60)
        #expect(try await fixture.records.incidents.events(of: opened.id).contains { $0.kind == .silenced })
    }

    @Test func theDashboardCarriesTheOpenIncidents() async throws {
        let fixture = try IncidentFixture()
        let opened = try await fixture.open()
        try await server(fixture).application().test(.router) { client in
            try await client.execute(uri: "/api/dashboard", method: .get) { response in
                let incidents = response.json["incidents"] as? [[String: Any]] ?? []
                #expect(incidents.map { $0["id"] as? Int } == [Int(opened.id)])
            }
        }
    }

    @Test func aServerWithoutIncidentsSaysSo() async throws {
        try await makeServer(token: Self.token).application().test(.router) { client in
            try await client.execute(uri: "/api/incidents", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
                #expect((response.json["error"] as? String)?.contains("keeps no incidents") == true)
            }
        }
    }
}
