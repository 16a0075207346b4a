import Foundation
import Logging
import RunbookEngine
import RunbookEscalation
import RunbookScheduler
import Synchronization

/// Fires of a schedule that will not run open the schedule's incident; its next run resolves it.
struct MissedFireIncidents: MissedFireAlerts {
    let desk: IncidentDesk

    func fireMissed(schedule: String, runbook: String, dueAt: [Date], reason: String) async {
        do {
            try await desk.scheduleMissed(schedule, runbook: runbook, dueAt: dueAt, reason: reason)
        } catch {
            desk.logger.error("cannot record the incident of schedule \(schedule)'s missed fire: \(error)")
        }
    }

    func fireStarted(schedule: String, dueAt: Date) async {
        do {
            try await desk.scheduleRan(schedule, dueAt: dueAt)
        } catch {
            desk.logger.error("cannot resolve the incident of schedule \(schedule): \(error)")
        }
    }

    func schedulesAre(_ names: Set<String>) async {
        do {
            try await desk.schedulesGone(keeping: names)
        } catch {
            desk.logger.error("cannot resolve the incidents of schedules no longer there: \(error)")
        }
    }
}

/// The supervisors' state changes, told to the incident desk in the order they happened: a
/// service that gave up opens an incident, one running again resolves it. A supervisor reports
/// without waiting, so changes queue here and one task at a time hands them to the desk.
/// Failures to record are logged, never thrown into the supervisor.
final class ServiceChanges: Sendable {
    typealias Status = Supervisor<ContinuousClock>.Status

    private let desk: IncidentDesk
    /// The changes waiting, and the task handing them over while there are any.
    private let state = Mutex<(waiting: [Status], drain: Task<Void, Never>?)>(([], nil))

    init(desk: IncidentDesk) {
        self.desk = desk
    }

    func add(_ status: Status) {
        state.withLock { state in
            state.waiting.append(status)
            if state.drain == nil { state.drain = Task { await self.drain() } }
        }
    }

    /// Waits until every change reported so far has been handed to the desk: the engine's last
    /// changes are recorded before it exits.
    func flush() async {
        while let drain = state.withLock({ $0.drain }) { await drain.value }
    }

    private func drain() async {
        while let status = next() {
            do {
                try await desk.serviceChanged(status.name, state: status.state, reason: status.lastError)
            } catch {
                desk.logger.error("cannot record the incident of service \(status.name): \(error)")
            }
        }
    }

    /// The oldest change waiting; nil, and the drain ends, when there is none.
    private func next() -> Status? {
        state.withLock { state in
            guard !state.waiting.isEmpty else {
                state.drain = nil
                return nil
            }
            return state.waiting.removeFirst()
        }
    }
}
