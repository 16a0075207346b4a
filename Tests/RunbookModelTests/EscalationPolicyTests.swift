import RunbookApp
import RunbookModel
import Testing

/// `escalation.levels` in runbook.yaml: level 1 takes the grace of the automatic recovery, and
/// nothing else since it tells nobody.
@Suite struct EscalationPolicyTests {
    @Test func theRecoveryHasFiveMinutesByDefaultAndItsGraceIsRead() throws {
        #expect(EscalationPolicy().levels[1]?.climbAfter == .seconds(300))
        let config = try EngineConfig.load(text: "escalation:\n  levels:\n    1: {climb_after: 10m}\n", file: "runbook.yaml", channels: Catalog.channels)
        #expect(config.escalation.levels[1]?.climbAfter == .seconds(600))
        #expect(config.escalation.levels[2]?.climbAfter == .seconds(900))
    }

    @Test(arguments: [
        ("escalation:\n  levels:\n    1: {channels: [ops]}\n", "runbook.yaml:3:19: error: level 1 tells nobody"),
        ("escalation:\n  levels:\n    5: {climb_after: 1m}\n", "runbook.yaml:3:5: error: escalation level '5' is not 1, 2, 3 or 4"),
    ])
    func mistakesNameTheirPlace(text: String, expected: String) {
        let error = #expect(throws: ValidationFailure.self) { try EngineConfig.load(text: text, file: "runbook.yaml", channels: Catalog.channels) }
        #expect(error?.diagnostics.first?.description.hasPrefix(expected) == true, "\(String(describing: error?.diagnostics.first))")
    }
}
