import RunbookApp
import RunbookModel
import Testing

/// `ticks:` in runbook.yaml: how often the journal reaches the disk, and whether there is one.
@Suite struct TickSettingsTests {
    @Test func theJournalIsOnAndSyncedEvery200msByDefault() throws {
        let config = try EngineConfig.load(text: "data_dir: var\n", file: "runbook.yaml", channels: Catalog.channels)
        #expect(config.ticks.journal)
        #expect(config.ticks.syncInterval == .milliseconds(200))
    }

    @Test func bothAreRead() throws {
        let config = try EngineConfig.load(text: "ticks: {sync_interval: 50ms, journal: false}\n", file: "runbook.yaml", channels: Catalog.channels)
        #expect(!config.ticks.journal)
        #expect(config.ticks.syncInterval == .milliseconds(50))
    }

    @Test(arguments: [
        ("ticks: {journal: maybe}\n", "runbook.yaml:1:18: error: ticks.journal must be true or false"),
        ("ticks: {sync_interval: 2m}\n", "runbook.yaml:1:24: error: ticks.sync_interval must be from 1ms to 60s"),
        ("ticks: {sync: 1s}\n", "runbook.yaml:1:9: error:"),
    ])
    func mistakesNameTheirPlace(text: String, expected: String) {
        let error = #expect(throws: ValidationFailure.self) { try EngineConfig.load(text: text, file: "runbook.yaml", channels: Catalog.channels) }
        #expect(error?.diagnostics.first?.description.hasPrefix(expected) == true, "\(String(describing: error?.diagnostics.first))")
    }
}
