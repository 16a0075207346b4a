import RunbookTestSupport
import Foundation
import RunbookCurl
import RunbookEscalation
import RunbookModel
import Testing

/// The Telegram channel against a local server speaking the Bot API's sendMessage.
@Suite struct TelegramChannelTests {
    static let token = "123456789:AAH-test-token-that-must-never-show"

    func channel(_ server: Peer, mode: String, timeout: Duration = .seconds(5), environment: [String: String] = ["OPS_BOT_TOKEN": token]) -> TelegramChannel {
        var settings = ChannelSettings.Telegram(chatID: "-100123")
        settings.baseURL = "http://127.0.0.1:\(server.port)/\(mode)"
        settings.tokenVariable = "OPS_BOT_TOKEN"
        return TelegramChannel(name: "ops-telegram", settings: settings, timeout: timeout) { environment[$0] }
    }

    @Test func aMessageIsSentToTheChatWithItsIncidentAndSequence() async throws {
        let server = try Peer("http_peer.py")
        let telegram = channel(server, mode: "ok")
        #expect(telegram.minimumInterval == .seconds(1))
        #expect(await telegram.deliver(message()) == .delivered)

        let request = try #require(server.received.first)
        #expect(request["path"] as? String == "/ok/bot\(Self.token)/sendMessage")
        #expect((request["headers"] as? [String: String])?["Content-Type"] == "application/json")
        let sent = Peer.json(request)
        #expect(sent["chat_id"] as? String == "-100123")
        #expect(sent["text"] as? String == "[#12.3] EA lost: ea-02\nNo heartbeat from ea-02 for 90s.\nLevel 2: alert.")
    }

    @Test func aLongMessageIsCutToTelegramsLimit() async throws {
        let server = try Peer("http_peer.py")
        // Emoji are two UTF-16 units each: Telegram counts those.
        let long = message(body: String(repeating: "🔥 disk full on ea-02 ", count: 400))
        #expect(await channel(server, mode: "ok").deliver(long) == .delivered)
        let text = try #require(Peer.json(server.received.first)["text"] as? String)
        #expect(text.utf16.count <= 4096)
        #expect(text.utf16.count > 4000)
        #expect(text.hasPrefix("[#12.3] EA lost: ea-02\n🔥 disk full"))
        #expect(text.hasSuffix("[... cut to Telegram's limit]"))
    }

    @Test func tooManyRequestsIsRetriedAfterTheWaitTelegramAsks() async throws {
        let server = try Peer("http_peer.py")
        let fromBody = await channel(server, mode: "429").deliver(message())
        guard case .retry(let after, let reason) = fromBody else { Issue.record("\(fromBody)"); return }
        #expect(after == .seconds(7))
        #expect(reason.contains("429"))
        #expect(reason.contains("Too Many Requests: retry after 7"))

        let fromHeader = await channel(server, mode: "429header").deliver(message())
        guard case .retry(let afterHeader, _) = fromHeader else { Issue.record("\(fromHeader)"); return }
        #expect(afterHeader == .seconds(3))
        #expect(server.received.count == 2)
    }

    @Test func aBadRequestIsRejectedWithTelegramsDescription() async throws {
        let server = try Peer("http_peer.py")
        let result = await channel(server, mode: "400").deliver(message())
        #expect(result == .rejected(reason: "Telegram refused the message (400): Bad Request: chat not found"))
    }

    @Test func aServerErrorOrNoServerIsRetried() async throws {
        let server = try Peer("http_peer.py")
        let failing = await channel(server, mode: "500").deliver(message())
        guard case .retry(nil, let reason) = failing else { Issue.record("\(failing)"); return }
        #expect(reason == "Telegram answered 500: Internal Server Error")

        var settings = ChannelSettings.Telegram(chatID: "-100123")
        settings.baseURL = "http://127.0.0.1:\(closedPort)"
        let refused = await TelegramChannel(name: "t", settings: settings, timeout: .seconds(5)) { _ in Self.token }.deliver(message())
        guard case .retry(nil, let refusal) = refused else { Issue.record("\(refused)"); return }
        #expect(refusal.contains("Telegram could not be reached: Couldn't connect to server"))
        #expect(!refusal.contains(Self.token))
    }

    @Test func noAnswerAfterTheRequestWentOutIsUncertain() async throws {
        let server = try Peer("http_peer.py")
        // The server answers 200 after 5 s: uncertain means the channel gave up before that.
        let result = await channel(server, mode: "hang", timeout: .seconds(1)).deliver(message())
        #expect(result == .uncertain(reason: "no answer within 1s after the message was sent to Telegram: it may have arrived"))
        // It did arrive: resending it by itself would have sent it twice.
        #expect(server.received.count == 1)
    }

    @Test func aMissingTokenVariableIsRetriedAndNamed() async throws {
        let server = try Peer("http_peer.py")
        let result = await channel(server, mode: "ok", environment: [:]).deliver(message())
        guard case .retry(nil, let reason) = result else { Issue.record("\(result)"); return }
        #expect(reason.contains("OPS_BOT_TOKEN is not set"))
        #expect(server.received.isEmpty)
    }

    @Test func theTokenNeverShowsInAReasonEvenWhenTheServerEchoesIt() async throws {
        let server = try Peer("http_peer.py")
        var reasons: [String] = []
        for mode in ["401echo", "400", "429", "500", "html", "nowhere"] {
            let result = await channel(server, mode: mode).deliver(message())
            #expect(result != .delivered)
            reasons.append(result.reason ?? "")
        }
        let echoed = reasons[0]
        #expect(echoed.hasPrefix("Telegram refused the message (401): Unauthorized: you sent /401echo/bot***/sendMessage"), "\(echoed)")
        #expect(echoed.contains("check the bot token in OPS_BOT_TOKEN"))
        #expect(reasons[4].contains("without \"ok\": true"))
        for reason in reasons { #expect(!reason.contains(Self.token), "\(reason)") }
        // The server did get the token: the masking is the channel's, not a missing token.
        #expect(server.received.allSatisfy { ($0["path"] as? String)?.contains(Self.token) == true })
    }

    @Test func theFactoryReadsTheTokenFromTheEnvironmentAtDelivery() async throws {
        let server = try Peer("http_peer.py")
        var telegram = ChannelSettings.Telegram(chatID: "@ops_channel")
        telegram.baseURL = "http://127.0.0.1:\(server.port)/ok"
        var settings = ChannelSettings(name: "ops-telegram", options: telegram)
        settings.timeout = .seconds(3)
        let hook = ChannelSettings(name: "ops-hook", options: ChannelSettings.Webhook(url: "http://127.0.0.1:\(server.port)/ok/hook"))
        let channels = ChannelRegistry.curl.make([settings, hook], environment: ["TELEGRAM_BOT_TOKEN": "42:from-the-environment"])
        #expect(channels.map(\.name) == ["ops-telegram", "ops-hook"])
        #expect(channels.map(\.minimumInterval) == [.seconds(1), .zero])
        #expect(await channels[0].deliver(message()) == .delivered)
        #expect(server.received.first?["path"] as? String == "/ok/bot42:from-the-environment/sendMessage")
        #expect(Peer.json(server.received.first)["chat_id"] as? String == "@ops_channel")
    }
}
