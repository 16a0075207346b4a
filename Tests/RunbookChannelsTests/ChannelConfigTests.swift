import Foundation
import RunbookCurl
import RunbookEscalation
import RunbookModel
import Testing

/// `channels:` in runbook.yaml: what is read, and what is refused with where and what to write.
@Suite final class ChannelConfigTests {
    let folder: URL

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("channels-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(at: folder)
    }

    func load(_ text: String) throws(ValidationFailure) -> EngineConfig {
        let file = folder.appendingPathComponent("runbook-\(UUID().uuidString).yaml")
        try? text.write(to: file, atomically: true, encoding: .utf8)
        return try EngineConfig.load(path: file.path, environment: [:], channels: ChannelRegistry.curl)
    }

    /// The diagnostics of a configuration that must fail.
    func problems(_ text: String) -> [Diagnostic] {
        do {
            _ = try load(text)
            return []
        } catch {
            return error.diagnostics
        }
    }

    @Test func theThreeKindsAreReadWithTheirDefaults() throws {
        try "-----BEGIN CERTIFICATE-----\n".write(to: folder.appendingPathComponent("ca.pem"), atomically: true, encoding: .utf8)
        let config = try load("""
            channels:
              ops-telegram: {type: telegram, chat_id: "-100123", token_env: OPS_BOT_TOKEN, base_url: "http://127.0.0.1:8081/", timeout: 5s}
              ops-email:
                type: email
                url: "smtp://mail.example.com:587"
                from: runbook@example.com
                to: [ops@example.com, desk@example.com]
                username_env: SMTP_USER
                password_env: SMTP_PASSWORD
                ca_file: ca.pem
              relay: {type: email, url: "smtp://127.0.0.1:25", security: none, from: runbook@example.com, to: ops@example.com}
              secure: {type: email, url: "smtps://mail.example.com", from: runbook@example.com, to: [ops@example.com]}
              ops-hook: {type: webhook, url: "https://hooks.example.com/runbook", token_env: HOOK_TOKEN}
              plain-hook: {type: webhook, url: "http://10.0.0.5/hook"}
              default-bot: {type: telegram, chat_id: "@ops_channel"}
            """)
        #expect(config.channels.map(\.name) == ["ops-telegram", "ops-email", "relay", "secure", "ops-hook", "plain-hook", "default-bot"])
        #expect(config.channels.map(\.type) == ["telegram", "email", "email", "email", "webhook", "webhook", "telegram"])

        guard let telegram = config.channels[0].options as? ChannelSettings.Telegram else { Issue.record("not telegram"); return }
        #expect(telegram.chatID == "-100123")
        #expect(telegram.tokenVariable == "OPS_BOT_TOKEN")
        #expect(telegram.baseURL == "http://127.0.0.1:8081")
        #expect(config.channels[0].timeout == .seconds(5))

        guard let email = config.channels[1].options as? ChannelSettings.Email else { Issue.record("not email"); return }
        #expect(email.url == "smtp://mail.example.com:587")
        #expect(email.security == .starttls)
        #expect(email.from == "runbook@example.com")
        #expect(email.to == ["ops@example.com", "desk@example.com"])
        #expect(email.usernameVariable == "SMTP_USER" && email.passwordVariable == "SMTP_PASSWORD")
        #expect(email.caFile == folder.appendingPathComponent("ca.pem").path)
        #expect(config.channels[1].timeout == .seconds(10))

        guard let relay = config.channels[2].options as? ChannelSettings.Email, let secure = config.channels[3].options as? ChannelSettings.Email else { Issue.record("not email"); return }
        #expect(relay.security == ChannelSettings.Email.Security.none)
        #expect(relay.to == ["ops@example.com"])
        #expect(relay.usernameVariable == nil)
        #expect(secure.security == .smtps)

        guard let hook = config.channels[4].options as? ChannelSettings.Webhook, let plain = config.channels[5].options as? ChannelSettings.Webhook else { Issue.record("not webhook"); return }
        #expect(hook.url == "https://hooks.example.com/runbook")
        #expect(hook.tokenVariable == "HOOK_TOKEN")
        #expect(plain.tokenVariable == nil)

        guard let bot = config.channels[6].options as? ChannelSettings.Telegram else { Issue.record("not telegram"); return }
        #expect(bot.tokenVariable == "TELEGRAM_BOT_TOKEN")
        #expect(bot.baseURL == "https://api.telegram.org")
    }

    @Test func whoMayActFromTelegramIsReadAndAMistakeIsNamedWhereItIs() throws {
        let config = try load("""
            channels:
              ops-telegram: {type: telegram, chat_id: "-100123", allowed_users: [111, 222], confirmations: 3}
              quiet: {type: telegram, chat_id: "-100123"}
            """)
        let telegram = try #require(config.channels.first { $0.name == "ops-telegram" }?.options as? ChannelSettings.Telegram)
        #expect(telegram.allowedUsers == [111, 222] && telegram.confirmations == 3)
        let quiet = try #require(config.channels.first { $0.name == "quiet" }?.options as? ChannelSettings.Telegram)
        #expect(quiet.allowedUsers.isEmpty && quiet.confirmations == 2)
        let diagnostics = problems("""
            channels:
              a: {type: telegram, chat_id: "1", allowed_users: [111, "@ann"]}
              b: {type: telegram, chat_id: "1", confirmations: 0}
            """)
        #expect(diagnostics.map(\.location.line) == [2, 3])
        #expect(diagnostics.first?.message.contains("allowed_users '@ann' is not a Telegram user id") == true, "\(diagnostics)")
        #expect(diagnostics.last?.message.contains("confirmations must be a whole number from 1 to 10") == true, "\(diagnostics)")
    }

    @Test func aSecretWrittenInTheFileIsRefusedAndNotShownAgain() {
        let diagnostics = problems("""
            channels:
              bot: {type: telegram, chat_id: "-100123", token: "123456:AAHsecretsecret"}
              mail: {type: email, url: "smtp://mail.example.com:587", from: a@example.com, to: [b@example.com], username_env: U, password: hunter2hunter2}
              hook:
                type: webhook
                url: https://hooks.example.com/x
                bot_token: s3cr3t-value
            """)
        #expect(diagnostics.map(\.location.line) == [2, 3, 7])
        #expect(diagnostics[0].message.contains("'token' would keep a secret in runbook.yaml"))
        #expect(diagnostics[0].message.contains("token_env: VARIABLE_NAME"))
        #expect(diagnostics[1].message.contains("password_env: VARIABLE_NAME"))
        #expect(diagnostics[2].message.contains("token_env"))
        let printed = diagnostics.map(\.description).joined(separator: "\n")
        for secret in ["AAHsecretsecret", "hunter2hunter2", "s3cr3t-value"] {
            #expect(!printed.contains(secret), "\(printed)")
        }
        // The line is still shown, with the secret masked.
        #expect(diagnostics[0].sourceLine?.contains("token: \"***\"") == true)
    }

    @Test func aSecretInAVariableNameOrAURLIsRefusedAndNotShownAgain() {
        let diagnostics = problems("""
            channels:
              bot: {type: telegram, chat_id: "1", token_env: "123456:AAHtokentoken"}
              bot2: {type: telegram, chat_id: "1", base_url: "https://api.telegram.org/bot123456:AAHothertoken"}
              mail: {type: email, url: "smtp://ops:mailpassword@mail.example.com", from: a@example.com, to: [b@example.com]}
            """)
        #expect(diagnostics.map(\.location.line) == [2, 3, 4])
        #expect(diagnostics[0].message.contains("token_env must name an environment variable"))
        #expect(diagnostics[1].message.contains("base_url holds a bot token"))
        #expect(diagnostics[2].message.contains("must not carry a login: name environment variables with username_env and password_env"))
        let printed = diagnostics.map(\.description).joined(separator: "\n")
        for secret in ["AAHtokentoken", "AAHothertoken", "mailpassword"] {
            #expect(!printed.contains(secret), "\(printed)")
        }
    }

    @Test func typesKeysAndSchemesAreChecked() {
        let diagnostics = problems("""
            channels:
              a: {type: telegrma, chat_id: "1"}
              b: {type: telegram, chat_id: "1", chat: "2"}
              c: {type: webhook, url: "ftp://example.com/x"}
              d: {type: email, url: "https://mail.example.com", from: a@example.com, to: [b@example.com]}
              e: {chat_id: "1"}
              f: {type: telegram, chat_id: "ops"}
              g: {type: webhook, url: "https://example.com/x", timeout: soon}
            """)
        #expect(diagnostics.map(\.location.line) == [2, 3, 4, 5, 6, 7, 8])
        #expect(diagnostics[0].message.contains("unknown channel type 'telegrma' (did you mean 'telegram'?)"))
        #expect(diagnostics[1].message.contains("unknown key 'chat' in channel 'b'"))
        #expect(diagnostics[2].message.contains("is not a https or http URL: write it like https://hooks.example.com/runbook"))
        #expect(diagnostics[3].message.contains("is not a smtp or smtps URL"))
        #expect(diagnostics[4].message.contains("channel 'e' needs a type: write type: telegram, email or webhook"))
        #expect(diagnostics[5].message.contains("chat_id 'ops' is not a chat"))
        #expect(diagnostics[6].message.contains("'soon' is not a duration"))
        #expect(diagnostics.allSatisfy { $0.location.file.hasSuffix(".yaml") && $0.location.column > 1 })
    }

    @Test func emailSettingsAreChecked() {
        let diagnostics = problems("""
            channels:
              a: {type: email, url: "smtp://mail.example.com", from: a@example.com, to: []}
              b: {type: email, url: "smtp://mail.example.com", from: "Ops <a@example.com>", to: [b@example.com]}
              c: {type: email, url: "smtp://mail.example.com", from: a@example.com, to: [b@example.com, not-an-address]}
              d: {type: email, url: "smtps://mail.example.com", security: starttls, from: a@example.com, to: [b@example.com]}
              e: {type: email, url: "smtp://mail.example.com", security: none, from: a@example.com, to: [b@example.com]}
              f: {type: email, url: "smtp://mail.example.com", security: tls, from: a@example.com, to: [b@example.com]}
              g: {type: email, url: "smtp://mail.example.com", from: a@example.com, to: [b@example.com], username_env: SMTP_USER}
              h: {type: email, url: "smtp://mail.example.com", from: a@example.com, to: [b@example.com], ca_file: missing.pem}
              i: {type: email, url: "smtp://mail.example.com", from: a@example.com}
            """)
        #expect(diagnostics.map(\.location.line) == [2, 3, 4, 5, 6, 7, 8, 9, 10])
        #expect(diagnostics[0].message.contains("to is empty: write at least one address"))
        #expect(diagnostics[1].message.contains("from 'Ops <a@example.com>' is not an e-mail address: write a bare address"))
        #expect(diagnostics[2].message.contains("to 'not-an-address' is not an e-mail address"))
        #expect(diagnostics[3].message.contains("an smtps:// url is TLS from the first byte: write security: smtps"))
        #expect(diagnostics[4].message.contains("security none sends mail in the clear"))
        #expect(diagnostics[5].message.contains("unknown security 'tls'"))
        #expect(diagnostics[6].message.contains("a login needs both variables: write password_env: SMTP_PASSWORD too"))
        #expect(diagnostics[7].message.contains("ca_file 'missing.pem' cannot be read"))
        #expect(diagnostics[8].message.contains("channel 'i' needs to: write to: [ops@example.com]"))
    }

    @Test func namesAreUniqueAndPlain() {
        let duplicate = problems("""
            channels:
              ops: {type: webhook, url: "https://example.com/a"}
              ops: {type: webhook, url: "https://example.com/b"}
            """)
        #expect(duplicate.count == 1)
        #expect(duplicate.first?.message.contains("duplicate key 'ops'") == true)

        let odd = problems("""
            channels:
              "ops team": {type: webhook, url: "https://example.com/a"}
            """)
        #expect(odd.map(\.location.line) == [2])
        #expect(odd.first?.message.contains("channel name 'ops team' is not a plain name") == true)

        let notAMap = problems("channels: [ops]\n")
        #expect(notAMap.first?.message.contains("channels must be a mapping") == true)
    }
}
