import Foundation
import Hummingbird
import RunbookChecks
import RunbookCore
import RunbookEscalation
import RunbookModel

extension RunbookHTTPServer {
    /// Everything the dashboard shows, in one answer it polls each second.
    struct DashboardData: Encodable {
        struct TickPoint: Encodable {
            var at: Date
            var perSecond: Double
        }

        var overview: Overview
        var flows: [FlowView]
        var checks: [HealthReport.Item]
        var services: [ServiceSnapshot]
        var runs: [RunView]
        var ticksPerSecond: [TickPoint]
        var signalsPerHour: [HourCount]
        var ticks: TickSnapshot?
        /// Incidents not resolved, newest first.
        var incidents: [Incident]
    }

    func addDashboardRoutes(to routes: RouteRegistrar) {
        routes.on(.get, "/") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: Dashboard.page))
            )
        }
        routes.on(.get, "/api/dashboard") { _, _ in
            let (snapshot, problem) = await engineSnapshot()
            let report = backend.checks()
            // Recent runs with their steps; the records may be busy, which only empties the panel.
            let recent = (try? await backend.runs(RunQuery(limit: 8))) ?? []
            var runs: [RunView] = []
            for run in recent { runs.append((try? await backend.run(run.id)).flatMap { $0 } ?? run) }
            let data = DashboardData(
                overview: overview(snapshot, engineProblem: problem, report: report), flows: flowViews(snapshot), checks: report.checks,
                services: snapshot?.services ?? [], runs: runs,
                ticksPerSecond: rates.tickHistory().map { DashboardData.TickPoint(at: $0.at, perSecond: Self.rounded($0.perSecond)) },
                signalsPerHour: (try? await backend.signalsPerHour(24)) ?? [], ticks: snapshot?.ticks,
                incidents: await openIncidents()
            )
            return JSON.response(data)
        }
    }
}
