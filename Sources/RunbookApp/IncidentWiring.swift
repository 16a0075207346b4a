import RunbookEngine
import RunbookEscalation

extension IncidentDesk {
    /// The supervisor's state changes: a service that gave up opens an incident, one running
    /// again resolves it. Failures to record are logged, never thrown into the supervisor.
    func serviceChanged(_ status: Supervisor<ContinuousClock>.Status) {
        do {
            try serviceChanged(status.name, state: status.state, reason: status.lastError)
        } catch {
            logger.error("cannot record the incident of service \(status.name): \(error)")
        }
    }
}
