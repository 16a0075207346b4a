import Foundation
import Hummingbird
import RunbookChecks
import RunbookCore
import RunbookExecutor
import RunbookModel

/// The engine's state as the health endpoints and the dashboard show it.
struct Overview: Encodable {
    /// healthy, warning or critical: the worst of the checks and the services.
    var status: CheckStatus
    var problems: [String]
    /// Set while flows bound beyond loopback accept anyone: the warning, naming them.
    var exposure: String?
    /// The kill switch on the command router, once it was ever changed.
    var gate: GateChange?
    var checks: [String: Int]
    var services: [String: Int]
    var pid: Int?
    var startedAt: Date?
    var updatedAt: Date
}

/// One flow with its counters, rates and a colour for the dashboard's hop.
struct FlowView: Encodable {
    var name: String
    /// healthy (up), warning (up, restarted within the window) or critical (not up).
    var status: CheckStatus
    var state: ServiceState
    var ports: [Int]
    var received: Int
    var sent: Int
    var malformed: [String: Int]
    var ratePerSecondIn: Double?
    var ratePerSecondOut: Double?
    var lastMessageAt: Date?
    var restarts: Int
    var peers: Int?
    /// Peers refused by the flows' security, by reason.
    var refused: [String: Int]
    var problem: String?
}

extension RunbookHTTPServer {
    func addRoutes(to routes: RouteRegistrar) {
        addHealthRoutes(to: routes)
        addAPIRoutes(to: routes)
        addIncidentRoutes(to: routes)
        addGateRoutes(to: routes)
        addApprovalRoutes(to: routes)
        addDashboardRoutes(to: routes)
    }

    /// The engine now: nil with the reason when it does not answer.
    func engineSnapshot() async -> (EngineSnapshot?, String?) {
        do {
            let snapshot = try await snapshots.get(backend.engine)
            rates.sample(snapshot)
            return (snapshot, nil)
        } catch {
            return (nil, "engine: \(error)")
        }
    }

    func overview(_ snapshot: EngineSnapshot?, engineProblem: String?, report: HealthReport) -> Overview {
        var problems: [String] = engineProblem.map { [$0] } ?? []
        var worst: CheckStatus = engineProblem == nil ? .healthy : .critical
        if let exposure = snapshot?.exposure {
            worst = max(worst, .warning)
            problems.append(exposure)
        }
        // The flows go on; their records wait on disk until the records answer.
        if let waiting = snapshot?.flowRecords?.waiting, waiting > 0 {
            worst = max(worst, .warning)
            problems.append("\(waiting) flow record(s) wait in the spool: the records cannot be reached; they are written once they answer")
        }
        // Closed on purpose, but every fire fails while it is: nobody may miss it.
        let gate = backend.gate?.gate?.current
        if let gate, gate.closed {
            worst = max(worst, .warning)
            problems.insert("gate \(gate.text): fires fail and reach no EA", at: 0)
        }
        var checkCounts: [String: Int] = [:]
        for item in report.checks {
            checkCounts[item.status.rawValue, default: 0] += 1
            switch item.status {
            case .critical, .warning:
                worst = max(worst, item.status)
                problems.append("check \(item.name): \(item.status.rawValue)\(item.text.map { " (\($0))" } ?? "")")
            case .unknown:
                worst = max(worst, .warning)
                problems.append("check \(item.name): unknown\(item.text.map { " (\($0))" } ?? "")")
            case .healthy, .idle: break
            }
        }
        var serviceCounts: [String: Int] = [:]
        for service in snapshot?.services ?? [] {
            serviceCounts[service.isUp ? "up" : "down", default: 0] += 1
            guard !service.isUp else { continue }
            // A flow down stops trading data; a program down is serious once its budget is spent.
            let severity: CheckStatus = service.kind == .flow || service.state == .gaveUp ? .critical : .warning
            worst = max(worst, severity)
            problems.append("\(service.kind) \(service.name): \(service.state)\(service.problem.map { " (\($0))" } ?? "")")
        }
        return Overview(
            status: worst, problems: problems, exposure: snapshot?.exposure, gate: gate, checks: checkCounts, services: serviceCounts,
            pid: snapshot?.pid, startedAt: snapshot?.startedAt, updatedAt: snapshot?.updatedAt ?? Date()
        )
    }

    func flowViews(_ snapshot: EngineSnapshot?) -> [FlowView] {
        let rates = self.rates.flowRates()
        return (snapshot?.services ?? []).filter { $0.kind == .flow }.map { service in
            FlowView(
                name: service.name, status: !service.isUp ? .critical : service.restarts > 0 ? .warning : .healthy, state: service.state,
                ports: service.ports, received: service.received ?? 0, sent: service.sent ?? 0, malformed: service.malformed ?? [:],
                ratePerSecondIn: rates[service.name].map { Self.rounded($0.in) }, ratePerSecondOut: rates[service.name].map { Self.rounded($0.out) },
                lastMessageAt: service.lastMessageAt, restarts: service.restarts, peers: service.peers, refused: service.refused ?? [:],
                problem: service.problem
            )
        }
    }

    static func rounded(_ value: Double) -> Double { (value * 10).rounded() / 10 }

    // MARK: Health

    func addHealthRoutes(to routes: RouteRegistrar) {
        routes.on(.get, "/health") { _, _ in
            let (snapshot, problem) = await engineSnapshot()
            let summary = overview(snapshot, engineProblem: problem, report: backend.checks())
            return JSON.response(summary, status: summary.status == .critical ? .serviceUnavailable : .ok)
        }
        routes.on(.get, "/health/live") { _, _ in
            JSON.response(["status": "alive"])
        }
        routes.on(.get, "/health/ready") { _, _ in
            struct Readiness: Encodable {
                var ready: Bool
                var problems: [String]
            }
            let (snapshot, problem) = await engineSnapshot()
            var problems: [String] = problem.map { [$0] } ?? []
            for service in snapshot?.services ?? [] where service.kind == .flow && !service.isUp {
                problems.append("flow \(service.name) is \(service.state)\(service.problem.map { ": \($0)" } ?? "")")
            }
            if let store = await backend.storeProblem() { problems.append("records database: \(store)") }
            return JSON.response(Readiness(ready: problems.isEmpty, problems: problems), status: problems.isEmpty ? .ok : .serviceUnavailable)
        }
        routes.on(.get, "/health/detailed") { _, _ in
            struct Detailed: Encodable {
                var status: CheckStatus
                var problems: [String]
                var checks: [HealthReport.Item]
                var gate: GateChange?
                var services: [ServiceSnapshot]
                var flows: [FlowView]
                var ticks: TickSnapshot?
                var updatedAt: Date
            }
            let (snapshot, problem) = await engineSnapshot()
            let report = backend.checks()
            let summary = overview(snapshot, engineProblem: problem, report: report)
            let detailed = Detailed(
                status: summary.status, problems: summary.problems, checks: report.checks, gate: summary.gate, services: snapshot?.services ?? [],
                flows: flowViews(snapshot), ticks: snapshot?.ticks, updatedAt: summary.updatedAt
            )
            return JSON.response(detailed, status: summary.status == .critical ? .serviceUnavailable : .ok)
        }
        routes.on(.get, "/metrics") { _, _ in
            let (snapshot, _) = await engineSnapshot()
            metrics.refresh(engine: snapshot, checks: backend.checks())
            if let desk = backend.incidents, incidentGauges.due() {
                let open = (try? await desk.store.unresolvedIncidents()) ?? []
                let depth = (try? await desk.store.outboxDepth()) ?? []
                metrics.refresh(incidents: open, outbox: depth, channels: desk.channels)
            }
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: metrics.exposition()))
            )
        }
    }

    // MARK: API

    func addAPIRoutes(to routes: RouteRegistrar) {
        routes.on(.get, "/api/status") { _, _ in
            let (snapshot, problem) = await engineSnapshot()
            return JSON.response(overview(snapshot, engineProblem: problem, report: backend.checks()))
        }
        routes.on(.get, "/api/checks") { _, _ in
            JSON.response(backend.checks())
        }
        routes.on(.get, "/api/services") { _, _ in
            struct Services: Encodable { var services: [ServiceSnapshot] }
            let (snapshot, problem) = await engineSnapshot()
            if let problem { return JSON.error(.serviceUnavailable, problem) }
            return JSON.response(Services(services: snapshot?.services ?? []))
        }
        routes.on(.post, "/api/services/:name/restart") { _, context in
            let name = context.parameters.get("name") ?? ""
            let known = (try? await backend.engine.serviceNames()) ?? []
            guard known.contains(name) else {
                return JSON.error(.notFound, "no service named '\(name)'\(Suggestion.hint(for: name, in: known)); services: \(known.joined(separator: ", "))")
            }
            do {
                try await backend.engine.restart(name)
                return JSON.response(["service": name, "result": "restarted"])
            } catch let refused as RestartRefused {
                return JSON.error(.conflict, "restart of \(name) refused: \(refused.description)")
            } catch {
                return JSON.error(.serviceUnavailable, "restart of \(name) failed: \(error)")
            }
        }
        routes.on(.get, "/api/flows") { _, _ in
            struct Flows: Encodable { var flows: [FlowView] }
            let (snapshot, problem) = await engineSnapshot()
            if let problem { return JSON.error(.serviceUnavailable, problem) }
            return JSON.response(Flows(flows: flowViews(snapshot)))
        }
        routes.on(.get, "/api/runs") { request, _ in
            struct Runs: Encodable { var runs: [RunView] }
            let query = request.uri.queryParameters
            var filter = RunQuery()
            filter.runbook = query.get("runbook").flatMap { $0.isEmpty ? nil : $0 }
            if let status = query.get("status"), !status.isEmpty {
                let statuses = RunStatus.allCases.map(\.rawValue)
                guard statuses.contains(status) else {
                    return JSON.error(.badRequest, "status '\(status)' is not one of \(statuses.joined(separator: ", "))")
                }
                filter.status = status
            }
            if let limit = query.get("limit") {
                guard let number = Int(limit), (1...1000).contains(number) else {
                    return JSON.error(.badRequest, "limit '\(limit)' is not a whole number from 1 to 1000")
                }
                filter.limit = number
            }
            do {
                return JSON.response(Runs(runs: try await backend.runs(filter)))
            } catch {
                return JSON.error(.serviceUnavailable, "cannot read the records: \(error)")
            }
        }
        routes.on(.get, "/api/runs/:id") { _, context in
            guard let text = context.parameters.get("id"), let id = Int64(text) else {
                return JSON.error(.badRequest, "a run id is a number, as `runbook history` shows")
            }
            do {
                guard let run = try await backend.run(id) else { return JSON.error(.notFound, "no run \(id) in the records") }
                return JSON.response(run)
            } catch {
                return JSON.error(.serviceUnavailable, "cannot read the records: \(error)")
            }
        }
        routes.on(.post, "/api/runs") { request, _ in
            let body = try await request.body.collect(upTo: 64 * 1024)
            let start: RunRequest
            do {
                start = try RunRequest.parse(Data(buffer: body))
            } catch {
                return JSON.error(.badRequest, "\(error)")
            }
            do {
                let id = try await backend.startRun(start.runbook, start.params)
                struct Started: Encodable {
                    var runId: Int64
                    var runbook: String
                    var url: String
                }
                return JSON.response(Started(runId: id, runbook: start.runbook, url: "/api/runs/\(id)"), status: .accepted)
            } catch let refused as APIError {
                let status: HTTPResponse.Status = switch refused.kind {
                case .badRequest: .badRequest
                case .notFound: .notFound
                case .conflict: .conflict
                }
                return JSON.error(status, refused.description)
            } catch {
                return JSON.error(.badRequest, "\(error)")
            }
        }
        routes.on(.get, "/api/schedules") { _, _ in
            struct Schedules: Encodable { var schedules: [ScheduleView] }
            return JSON.response(Schedules(schedules: backend.schedules(Date())))
        }
    }
}

/// The body of `POST /api/runs`: `{"runbook": NAME, "params": {KEY: VALUE}}`, values as text,
/// numbers or true/false.
struct RunRequest {
    var runbook: String
    var params: [String: String]

    struct Invalid: Error, CustomStringConvertible {
        var description: String
    }

    private enum Scalar: Decodable {
        case text(String)

        init(from decoder: any Decoder) throws {
            let value = try decoder.singleValueContainer()
            if let flag = try? value.decode(Bool.self) {
                self = .text(flag ? "true" : "false")
            } else if let whole = try? value.decode(Int.self) {
                self = .text(String(whole))
            } else if let number = try? value.decode(Double.self) {
                self = .text(String(number))
            } else {
                self = .text(try value.decode(String.self))
            }
        }
    }

    private struct Body: Decodable {
        var runbook: String?
        var params: [String: Scalar]?
    }

    static func parse(_ data: Data) throws(Invalid) -> RunRequest {
        let example = #"send {"runbook": "NAME", "params": {"KEY": "VALUE"}}"#
        guard let object = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw Invalid(description: "the body is not a JSON object: \(example)")
        }
        if let unknown = object.keys.sorted().first(where: { $0 != "runbook" && $0 != "params" }) {
            throw Invalid(description: "unknown key '\(unknown)' in the body: \(example)")
        }
        let body: Body
        do {
            body = try JSONDecoder().decode(Body.self, from: data)
        } catch {
            throw Invalid(description: "params must be an object of text, numbers or true/false: \(example)")
        }
        guard let runbook = body.runbook, !runbook.isEmpty else {
            throw Invalid(description: "the body has no runbook name: \(example)")
        }
        let params = (body.params ?? [:]).mapValues { scalar in
            switch scalar { case .text(let text): text }
        }
        return RunRequest(runbook: runbook, params: params)
    }
}
