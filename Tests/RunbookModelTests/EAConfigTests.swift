import Foundation
import RunbookApp
import RunbookModel
import Testing

/// `eas:` in runbook.yaml: which EAs receive canary fires.
@Suite struct EAConfigTests {
    func load(_ text: String) throws(ValidationFailure) -> EngineConfig {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("eas-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("runbook.yaml")
        try? text.write(to: file, atomically: true, encoding: .utf8)
        return try EngineConfig.load(path: file.path, environment: [:], channels: Catalog.channels)
    }

    @Test func canaryEAsAreReadAndMistakesNamedWithTheirPlace() throws {
        let config = try load("eas:\n  ea-07: {canary: true}\n  ea-01: {canary: false}\n  demo-02: {canary: true}\n")
        #expect(config.canaries == ["demo-02", "ea-07"])
        do {
            _ = try load("eas:\n  ea-07: {canary: yes please}\n  \"ea 08\": {canary: true}\n  ea-09: {canry: true}\n")
            Issue.record("mistakes are refused")
        } catch {
            let text = error.diagnostics.map(\.description).joined(separator: "\n")
            #expect(text.contains("runbook.yaml:2:19: error: eas.ea-07.canary must be true or false"), "\(text)")
            #expect(text.contains("'ea 08' is not an EA's target_uuid"), "\(text)")
            #expect(text.contains("runbook.yaml:4:11: error: unknown key 'canry' in eas.ea-09 (did you mean 'canary'?)") , "\(text)")
        }
    }
}
