import RunbookCore
import RunbookModel
import RunbookSteps

/// The engine's incidents and outbox as a run's steps reach them: the run's secrets are masked in
/// every reason, subject and message before they are stored, so neither the outbox nor what the
/// channels send ever holds one.
struct MaskingEscalation: Escalating {
    let underlying: any Escalating
    let secrets: Secrets

    /// `services` with their escalation, when they have one, seen through `secrets`.
    static func services(_ services: EngineServices, masking secrets: Secrets) -> EngineServices {
        guard let escalating = services.escalation else { return services }
        var masked = services
        masked.escalation = MaskingEscalation(underlying: escalating, secrets: secrets)
        return masked
    }

    func escalate(runID: Int64, runbook: String, level: Int, reason: String) async throws -> String {
        try await underlying.escalate(runID: runID, runbook: runbook, level: level, reason: secrets.mask(reason))
    }

    func notify(runID: Int64, runbook: String, subject: String, message: String, severity: Severity, channels: [String]) async throws -> String {
        try await underlying.notify(
            runID: runID, runbook: runbook, subject: secrets.mask(subject), message: secrets.mask(message), severity: severity, channels: channels
        )
    }
}
