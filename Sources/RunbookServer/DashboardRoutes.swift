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
        /// The engines of the fleet; nil for an engine alone.
        var fleet: [FleetView]?
        /// Runs waiting at an `approve` step, oldest first.
        var approvals: [ApprovalRequest] = []
        /// The maintenance windows, in force or not, with their next start; nil without incidents.
        var windows: [MaintenanceWindowState]?
    }

    /// One engine of the fleet, for the dashboard and `/api/fleet`.
    struct FleetView: Encodable {
        var name: String
        var role: String
        var host: String
        var version: String
        var lastBeat: Date
        var silentForSeconds: Double
        var flowsUp: Int
        var flowsTotal: Int
        var alive: Bool
    }

    /// The fleet's engines; nil without a fleet, empty when the records cannot say.
    func fleetViews() async -> [FleetView]? {
        guard let fleet = backend.fleet else { return nil }
        let members = (try? await fleet.store.members()) ?? []
        return members.map { member in
            FleetView(
                name: member.beat.name, role: member.role, host: member.beat.host, version: member.beat.version, lastBeat: member.lastBeat,
                silentForSeconds: Self.rounded(member.silentFor), flowsUp: member.beat.flowsUp, flowsTotal: member.beat.flowsTotal,
                alive: !member.stopped && member.silentFor <= Double(fleet.ttl.components.seconds)
            )
        }
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
            var data = DashboardData(
                overview: overview(snapshot, engineProblem: problem, report: report), flows: flowViews(snapshot), checks: report.checks,
                services: snapshot?.services ?? [], runs: runs,
                ticksPerSecond: rates.tickHistory().map { DashboardData.TickPoint(at: $0.at, perSecond: Self.rounded($0.perSecond)) },
                signalsPerHour: (try? await backend.signalsPerHour(24)) ?? [], ticks: snapshot?.ticks,
                incidents: await openIncidents(), fleet: await fleetViews(), windows: try? await backend.incidents?.windowStates()
            )
            data.approvals = (try? await backend.approvals?.store.waitingApprovals()) ?? []
            return JSON.response(data)
        }
        routes.on(.get, "/api/fleet") { _, _ in
            guard let fleet = await fleetViews() else {
                return JSON.error(.notFound, "one engine keeps these records alone (SQLite): there is no fleet")
            }
            return JSON.response(["engines": fleet])
        }
    }
}
