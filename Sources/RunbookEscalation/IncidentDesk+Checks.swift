import RunbookChecks
import RunbookExecutor
import RunbookModel

extension IncidentDesk: CheckIncidents {
    public func checkChanged(_ check: Check, to status: CheckStatus, result: CheckResult) async throws {
        try await checkChanged(check, to: status, text: result.text, subject: result.subject, threshold: result.threshold)
    }

    /// The run's start, and in the background its outcome, go on the check's incident.
    public func runStarted(by check: Check, run: RunLauncher.Launched) {
        Task {
            if let id = await run.runID {
                do {
                    try await self.runBegan(check: check.name, runID: id, runbook: run.runbook)
                } catch {
                    logger.error("cannot record the start of run \(id) on the incident of \(check.name): \(error)")
                }
            }
            let report = await run.report
            do {
                try await self.runEnded(
                    check: check.name, runID: report.runID, runbook: report.runbook, status: report.status,
                    escalationLevel: report.escalationLevel, error: report.error
                )
            } catch {
                logger.error("cannot record run \(report.runID) on the incident of \(check.name): \(error)")
            }
        }
    }
}
