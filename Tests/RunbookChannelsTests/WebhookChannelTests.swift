import RunbookTestSupport
import Foundation
import RunbookCurl
import RunbookEscalation
import RunbookModel
import Testing

/// The webhook channel against a local HTTP server.
@Suite struct WebhookChannelTests {
    static let token = "hook-secret-0123456789"

    func channel(_ server: Peer, mode: String, timeout: Duration = .seconds(5), tokenVariable: String? = "HOOK_TOKEN", environment: [String: String] = ["HOOK_TOKEN": token]) -> WebhookChannel {
        var settings = ChannelSettings.Webhook(url: "http://127.0.0.1:\(server.port)/\(mode)/runbook")
        settings.tokenVariable = tokenVariable
        return WebhookChannel(name: "ops-hook", settings: settings, timeout: timeout) { environment[$0] }
    }

    @Test func theMessageIsPostedAsJSONWithTheTokenAndAKeyThatIsTheSameOnAResend() async throws {
        let server = try Peer("http_peer.py")
        let hook = channel(server, mode: "ok")
        #expect(await hook.deliver(message()) == .delivered)
        #expect(await hook.deliver(message()) == .delivered)

        let requests = server.received
        #expect(requests.count == 2)
        let headers = try #require(requests.first?["headers"] as? [String: String])
        #expect(headers["Authorization"] == "Bearer \(Self.token)")
        #expect(headers["Content-Type"] == "application/json")
        #expect(headers["Idempotency-Key"] == "runbook.12.3.45")
        #expect((requests.last?["headers"] as? [String: String])?["Idempotency-Key"] == "runbook.12.3.45")
        let sent = Peer.json(requests.first)
        #expect(sent["incident_id"] as? Int == 12)
        #expect(sent["sequence"] as? Int == 3)
        #expect(sent["level"] as? Int == 2)
        #expect(sent["severity"] as? String == "critical")
        #expect(sent["subject"] as? String == "EA lost: ea-02")
        #expect(sent["body"] as? String == "No heartbeat from ea-02 for 90s.\nLevel 2: alert.")
    }

    @Test func withoutATokenVariableNoAuthorizationIsSent() async throws {
        let server = try Peer("http_peer.py")
        #expect(await channel(server, mode: "ok", tokenVariable: nil).deliver(message()) == .delivered)
        let headers = try #require(server.received.first?["headers"] as? [String: String])
        #expect(headers["Authorization"] == nil)
    }

    @Test func answersMapToRetryRejectedAndUncertain() async throws {
        let server = try Peer("http_peer.py")
        let slowDown = await channel(server, mode: "429").deliver(message())
        #expect(slowDown == .retry(after: .seconds(5), reason: "the webhook asked to slow down (429): {\"error\": \"slow down\"}"))
        let failing = await channel(server, mode: "500").deliver(message())
        #expect(failing == .retry(after: nil, reason: "the webhook answered 500: {\"error\": \"Internal Server Error\"}"))
        let refused = await channel(server, mode: "400").deliver(message())
        #expect(refused == .rejected(reason: "the webhook refused the message (400): {\"error\": \"Bad Request: chat not found\"}"))
        let hung = await channel(server, mode: "hang", timeout: .seconds(1)).deliver(message())
        #expect(hung.kind == "uncertain")
        #expect(server.received.count == 4)

        var settings = ChannelSettings.Webhook(url: "http://127.0.0.1:\(closedPort)/runbook")
        settings.tokenVariable = nil
        let unreachable = await WebhookChannel(name: "h", settings: settings, timeout: .seconds(5)) { _ in nil }.deliver(message())
        #expect(unreachable.kind == "retry")
    }

    @Test func aMissingTokenIsRetriedAndAnEchoedOneIsMasked() async throws {
        let server = try Peer("http_peer.py")
        let missing = await channel(server, mode: "ok", environment: [:]).deliver(message())
        #expect(missing == .retry(after: nil, reason: "the webhook token's environment variable HOOK_TOKEN is not set where the engine runs: set it and the message goes out"))
        #expect(server.received.isEmpty)

        let echoed = await channel(server, mode: "401echo").deliver(message())
        #expect(echoed.kind == "rejected")
        #expect(echoed.reason?.contains("Bearer ***") == true, "\(echoed)")
        #expect(echoed.reason?.contains(Self.token) == false)
    }
}
