import Foundation
import Hummingbird
import HummingbirdTesting
import RunbookChecks
import RunbookCore
import RunbookEscalation
import RunbookModel
import RunbookSQLite
import RunbookServer
import Synchronization

/// An engine whose state a test sets: the server reads nothing but the snapshot and asks
/// nothing but restarts, so this is the whole of what it sees of one.
final class ScriptedEngine: EngineControl {
    let state: Mutex<EngineSnapshot>
    let restarted = Mutex<[String]>([])
    let refuse = Mutex<String?>(nil)
    let reads = Mutex(0)

    init(_ services: [ServiceSnapshot] = ScriptedEngine.allUp(), ticks: TickSnapshot? = TickSnapshot(received: 0, stored: 0)) {
        state = Mutex(EngineSnapshot(pid: 4242, startedAt: Date(timeIntervalSinceNow: -60), updatedAt: Date(), services: services, ticks: ticks))
    }

    static func flow(_ name: String, ports: [Int], state: ServiceState = .running, received: Int = 0, sent: Int = 0, malformed: [String: Int] = [:]) -> ServiceSnapshot {
        ServiceSnapshot(name: name, kind: .flow, state: state, restarts: 0, since: Date(), ports: ports, received: received, sent: sent, malformed: malformed)
    }

    static func allUp() -> [ServiceSnapshot] {
        [
            flow("telemetry-bridge", ports: [5556, 5560]), flow("signal-relay", ports: []),
            flow("command-router", ports: [5555]), flow("confirmation-listener", ports: [5558]),
        ]
    }

    func update(_ change: (inout EngineSnapshot) -> Void) {
        state.withLock { snapshot in
            change(&snapshot)
            snapshot.updatedAt = Date()
        }
    }

    func snapshot() async throws -> EngineSnapshot {
        reads.withLock { $0 += 1 }
        return state.withLock { $0 }
    }

    func restart(_ service: String) async throws {
        if let reason = refuse.withLock({ $0 }) { throw RestartRefused(reason) }
        restarted.withLock { $0.append(service) }
    }

    func serviceNames() async throws -> [String] { state.withLock { $0.services.map(\.name) } }
}

/// What a test's backend was asked, and what it answers.
final class BackendScript: Sendable {
    let checks = Mutex<[CheckEntry]>([])
    let storeProblem = Mutex<String?>(nil)
    let runQueries = Mutex<[RunQuery]>([])
    let started = Mutex<[(String, [String: String])]>([])
    let runs = Mutex<[RunView]>([])
    /// Incidents over a real records database, when the test makes them.
    let desk: IncidentDesk?

    init(desk: IncidentDesk? = nil) {
        self.desk = desk
    }

    func backend(_ engine: any EngineControl) -> ServerBackend {
        ServerBackend(
            engine: engine,
            checks: { HealthReport(updatedAt: Date(), entries: self.checks.withLock { $0 }) },
            storeProblem: { self.storeProblem.withLock { $0 } },
            runs: { query in
                self.runQueries.withLock { $0.append(query) }
                return self.runs.withLock { $0 }.filter { query.runbook == nil || $0.runbook == query.runbook }.prefix(query.limit).map { $0 }
            },
            run: { id in self.runs.withLock { $0 }.first { $0.id == id } },
            startRun: { name, params in
                guard name == "ea-lost" else { throw APIError(.notFound, "no runbook named '\(name)'") }
                self.started.withLock { $0.append((name, params)) }
                return 77
            },
            schedules: { now in
                [ScheduleView(name: "hourly", runbook: "hourly-report", when: "0 * * * *", timeZone: "UTC", next: [now.addingTimeInterval(60)], params: [:])]
            },
            signalsPerHour: { hours in (0..<hours).map { HourCount(hour: Date(timeIntervalSince1970: Double($0) * 3600), count: $0) } },
            incidents: desk
        )
    }

    func setCheck(_ name: String, _ status: CheckStatus, text: String? = nil) {
        let check = Check(name: name, probe: ProbeConfig(kind: "process"), file: "t.yaml")
        checks.withLock { entries in
            entries.removeAll { $0.check.name == name }
            entries.append(CheckEntry(
                check: check, status: status, since: Date(),
                last: CheckResult(check: name, status: status, value: nil, text: text ?? status.rawValue, threshold: "", at: Date())
            ))
        }
    }
}

func makeServer(token: String? = "t0ken-\(UUID().uuidString)", engine: ScriptedEngine = ScriptedEngine(), script: BackendScript = BackendScript()) -> RunbookHTTPServer {
    // No snapshot reuse: each request sees the state the test has just set.
    RunbookHTTPServer(settings: HTTPSettings(), token: token, backend: script.backend(engine), snapshotMaxAge: .zero)
}

/// Incidents kept in a real records database in a folder of their own, for the incident routes.
final class IncidentFixture: Sendable {
    let folder: URL
    let records: RecordsDatabase
    let desk: IncidentDesk
    /// A check with no runbook: its incident starts at level 2 and is sent to every channel.
    static let check = Check(name: "market-data", probe: ProbeConfig(kind: "freshness"), file: "Checks/market-data.yaml")

    init(channels: [String] = ["ops-telegram"]) throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("incidents-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        records = try RecordsDatabase(path: folder.appendingPathComponent("runbook.db").path)
        desk = IncidentDesk(store: records.incidents, policy: EscalationPolicy(), channels: channels, checks: { [IncidentFixture.check] })
    }

    deinit { try? FileManager.default.removeItem(at: folder) }

    @discardableResult
    func open() async throws -> Incident {
        try await desk.checkChanged(Self.check, to: .critical, text: "no tick for 95s", subject: nil, threshold: "> 60s")[0]
    }

    /// A script whose checks include the fixture's check, with the fixture's desk.
    func script() -> BackendScript {
        let script = BackendScript(desk: desk)
        script.setCheck(Self.check.name, .critical)
        return script
    }
}

extension TestResponse {
    var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(buffer: body))) as? [String: Any] ?? [:]
    }

    var text: String { String(buffer: body) }
}
