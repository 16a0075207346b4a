import Foundation
import Logging
import RunbookChecks
import RunbookCore
import RunbookEngine
import RunbookEscalation
import RunbookExecutor
import RunbookFlows
import RunbookModel
import RunbookScheduler
import RunbookServer
import RunbookSQLite

/// The HTTP server of `runbook up`, from `http:` in runbook.yaml: checked before anything
/// starts, then given the engine's parts once they exist.
struct HTTPWiring {
    let settings: HTTPSettings
    let token: String?
    let metrics = EngineMetrics()

    /// Nil when `http.enabled` is false. Fails, saying what to do, when the address is not
    /// loopback and no token is set.
    static func prepare(_ config: EngineConfig, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> HTTPWiring? {
        guard config.http.enabled else { return nil }
        let token = environment[config.http.tokenVariable].flatMap { $0.isEmpty ? nil : $0 }
        do {
            try RunbookHTTPServer.checkSettings(config.http, token: token)
        } catch {
            throw StartFailure("\(error)")
        }
        let wiring = HTTPWiring(settings: config.http, token: token)
        wiring.metrics.bootstrapSwiftMetrics()
        return wiring
    }

    /// The flows' store, counting fires and their latency on the way.
    func flowStore(_ store: any FlowStore) -> any FlowStore {
        MeteredFlowStore(store, metrics: metrics)
    }

    var runObserver: any RunObserver { MeteredRunObserver(metrics: metrics) }

    /// The server, once the flows are up. A port that is taken stops the engine just started
    /// and fails the start, naming the port.
    func server(
        assembly: Assembly, live: LiveEngine, guardian: Guardian<ContinuousClock>, records: Records, library: RunbookLibrary, launcher: RunLauncher,
        desk: IncidentDesk, gate: GateKeeper
    ) async throws -> RunbookHTTPServer {
        do {
            try RunbookHTTPServer.checkAvailable(settings)
        } catch {
            await live.stop()
            throw StartFailure("\(error)")
        }
        let logger = Logger(label: "runbook.http")
        let schedules = assembly.schedules().sorted
        let market = assembly.config.market
        var backend = ServerBackend(
            engine: live,
            checks: { HealthReport(updatedAt: Date(), entries: guardian.states) },
            storeProblem: {
                do {
                    _ = try await records.flows.lastArrival(of: .signal)
                    return nil
                } catch {
                    return "\(error)"
                }
            },
            runs: { query in
                try await records.runs.runs(RunFilter(runbook: query.runbook, status: query.status, limit: query.limit)).map { Self.view($0) }
            },
            run: { id in
                guard let run = try await records.runs.run(id: id) else { return nil }
                return Self.view(run, steps: try await records.runs.attempts(runID: id))
            },
            startRun: { name, params in
                do {
                    _ = try library.resolve(name)
                } catch is ValidationFailure {
                    throw APIError(.badRequest, "runbook '\(name)' has errors: run `runbook validate` to see them")
                } catch {
                    let names = library.runbooks.keys.sorted()
                    throw APIError(.notFound, "no runbook named '\(name)'\(Suggestion.hint(for: name, in: names)); `runbook list` shows them")
                }
                let launched: RunLauncher.Launched
                do {
                    launched = try launcher.start(name, arguments: params, trigger: .api, key: "api")
                } catch {
                    throw APIError(.badRequest, "\(error)")
                }
                guard let id = await launched.runID else {
                    throw APIError(.conflict, "the run of '\(name)' could not be recorded, so it did not start; see the engine's log")
                }
                return id
            },
            schedules: { now in
                schedules.map { schedule in
                    ScheduleView(
                        name: schedule.name, runbook: schedule.runbook, when: schedule.whenText, timeZone: schedule.timeZone.identifier,
                        next: FireTimes(schedule, market: market).upcoming(after: now, count: 3),
                        params: schedule.shownParams(in: library)
                    )
                }
            },
            signalsPerHour: { hours in
                let now = Date()
                let hourStart = Date(timeIntervalSince1970: (now.timeIntervalSince1970 / 3600).rounded(.down) * 3600)
                var counts: [HourCount] = []
                for back in (0..<hours).reversed() {
                    let start = hourStart.addingTimeInterval(-3600 * Double(back))
                    let hour = DateInterval(start: start, end: min(now, start.addingTimeInterval(3599.999)))
                    counts.append(HourCount(hour: start, count: try await records.flows.count(of: .signal, in: hour)))
                }
                return counts
            },
            incidents: desk
        )
        if let fleet = records.fleet { backend.fleet = (fleet, assembly.config.engine.leaseTTL) }
        backend.gate = gate
        backend.approvals = ApprovalDesk(store: records.runs)
        let access = token == nil ? "changes through the API refused until \(settings.tokenVariable) is set" : "changes need the token in \(settings.tokenVariable)"
        logger.info("http: dashboard, health and metrics on http://\(settings.listen)/; \(access)")
        return RunbookHTTPServer(settings: settings, token: token, backend: backend, metrics: metrics, logger: logger)
    }

    static func view(_ run: RunRecord, steps: [AttemptRecord]? = nil) -> RunView {
        RunView(
            id: run.id, runbook: run.runbook, trigger: run.trigger, triggerSource: run.triggerSource, params: run.parameters,
            parentRunId: run.parentRunId, startedAt: run.startedAt, finishedAt: run.finishedAt, status: run.status,
            escalationLevel: run.escalationLevel, error: run.error,
            steps: steps?.map { attempt in
                StepView(
                    index: attempt.stepIndex, id: attempt.stepId, primitive: attempt.primitive, attempt: attempt.attempt, status: attempt.status,
                    startedAt: attempt.startedAt, finishedAt: attempt.finishedAt, durationMs: attempt.durationMs, exitCode: attempt.exitCode,
                    output: attempt.output, error: attempt.error
                )
            }
        )
    }
}
