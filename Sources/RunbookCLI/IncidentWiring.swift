import Logging
import RunbookEngine
import RunbookEscalation
import Synchronization

/// Hands the supervisor's state changes to the incident desk, which is made after the engine
/// (its checks need the engine): changes before that are only the first starts.
final class IncidentDesks: Sendable {
    private let desk = Mutex<IncidentDesk?>(nil)
    private let logger = Logger(label: "runbook.incidents")

    func attach(_ desk: IncidentDesk) {
        self.desk.withLock { $0 = desk }
    }

    func serviceChanged(_ status: Supervisor<ContinuousClock>.Status) {
        guard let desk = desk.withLock({ $0 }) else { return }
        do {
            try desk.serviceChanged(status.name, state: status.state.rawValue, reason: status.lastError)
        } catch {
            logger.error("cannot record the incident of service \(status.name): \(error)")
        }
    }
}
