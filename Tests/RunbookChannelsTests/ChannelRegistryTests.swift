import Foundation
import RunbookCurl
import RunbookEscalation
import RunbookModel
import Synchronization
import Testing

/// A channel kind defined outside the adapters: one type and one registration, and the
/// configuration reads it, checks it and builds its channel like the shipped ones.
struct PagerKind: ChannelKind {
    static let spec = ChannelSpec(type: "pager", keys: ["team", "token_env"], secretKey: "token_env")
    var team: String
    var tokenVariable: String?

    static func read(_ fields: inout ChannelFields) -> Self? {
        guard let team = fields.required("team", example: "ops") else { return nil }
        return PagerKind(team: team, tokenVariable: fields.variable("token_env", example: "PAGER_TOKEN"))
    }

    func channel(name: String, timeout: Duration, environment: @escaping EnvironmentLookup) -> any NotificationChannel {
        PagerChannel(name: name, team: team, token: tokenVariable.flatMap(environment))
    }
}

/// Remembers what it was asked to send.
final class PagerChannel: NotificationChannel, Sendable {
    let name: String
    let team: String
    let token: String?
    let sent = Mutex<[String]>([])
    var minimumInterval: Duration { .zero }

    init(name: String, team: String, token: String?) {
        self.name = name
        self.team = team
        self.token = token
    }

    func deliver(_ message: OutgoingMessage) async -> DeliveryResult {
        sent.withLock { $0.append("\(team): \(message.subject)") }
        return .delivered
    }
}

@Suite final class ChannelRegistryTests {
    let folder: URL
    let kinds = ChannelRegistry.curl.merging(ChannelRegistry([PagerKind.self]))

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("channel-kinds-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(at: folder)
    }

    func load(_ text: String) throws(ValidationFailure) -> EngineConfig {
        let file = folder.appendingPathComponent("runbook.yaml")
        try? text.write(to: file, atomically: true, encoding: .utf8)
        return try EngineConfig.load(path: file.path, environment: [:], channels: kinds)
    }

    func problems(_ text: String) -> [String] {
        do {
            _ = try load(text)
            return []
        } catch {
            return error.diagnostics.map { "\($0.location.line):\($0.location.column): \($0.message)" }
        }
    }

    @Test func aRegisteredKindIsReadAndBuildsItsChannel() async throws {
        let config = try load("""
            channels:
              desk: {type: pager, team: fx-desk, token_env: PAGER_TOKEN, timeout: 3s}
              ops-hook: {type: webhook, url: "https://hooks.example.com/runbook"}
            escalation:
              levels:
                2: {channels: [desk]}
            """)
        #expect(config.channels.map(\.type) == ["pager", "webhook"])
        #expect(config.channels[0].timeout == .seconds(3))
        let channels = kinds.make(config.channels, environment: ["PAGER_TOKEN": "t0ken"])
        let pager = try #require(channels.first as? PagerChannel)
        #expect(pager.name == "desk" && pager.team == "fx-desk" && pager.token == "t0ken")
        #expect(channels.last is WebhookChannel)
        let result = await pager.deliver(OutgoingMessage(id: 1, incidentID: 2, sequence: 1, level: 2, severity: "critical", subject: "bridge down", body: ""))
        #expect(result.kind == "delivered")
        #expect(pager.sent.withLock { $0 } == ["fx-desk: bridge down"])
    }

    @Test func itsMistakesAreReportedWhereTheyAreWithTheOthers() {
        let found = problems("""
            channels:
              desk: {type: pager, token_env: "not a variable", colour: red}
              other: {type: pagr}
            """)
        #expect(found == [
            "2:52: unknown key 'colour' in channel 'desk'; allowed: type, timeout, team, token_env",
            "2:9: channel 'desk' needs team: write team: ops",
            "3:17: unknown channel type 'pagr' (did you mean 'pager'?): write telegram, email, webhook or pager",
        ])
    }

    @Test func withoutTheRegistrationTheKindIsUnknown() {
        do {
            _ = try EngineConfig.load(text: "channels:\n  desk: {type: pager, team: ops}\n", file: "runbook.yaml", channels: ChannelRegistry.curl)
            Issue.record("a kind nobody registered was read")
        } catch {
            #expect(error.diagnostics.map(\.message) == ["unknown channel type 'pager': write telegram, email or webhook"])
        }
    }
}
