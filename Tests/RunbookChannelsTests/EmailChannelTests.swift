import RunbookTestSupport
import Foundation
import RunbookCurl
import RunbookEscalation
import RunbookModel
import Testing

/// The e-mail channel against a real SMTP server (aiosmtpd) on loopback: a plain relay, STARTTLS
/// with a login, and SMTPS, with a certificate made for the test.
@Suite struct EmailChannelTests {
    static let password = "smtp-Pa55word-never-shown"
    static let login = ["SMTP_USER": "runbook", "SMTP_PASSWORD": password]

    /// A self-signed certificate for 127.0.0.1, made with openssl in `folder`.
    static func certificate(in folder: URL) throws -> (cert: String, key: String) {
        let cert = folder.appendingPathComponent("cert.pem").path
        let key = folder.appendingPathComponent("key.pem").path
        let openssl = Process()
        openssl.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        openssl.arguments = [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert,
            "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ]
        openssl.standardError = FileHandle.nullDevice
        try openssl.run()
        openssl.waitUntilExit()
        try #require(openssl.terminationStatus == 0)
        return (cert, key)
    }

    /// A server in `mode`, with a certificate and the login when it speaks TLS.
    static func server(_ mode: String) throws -> (peer: Peer, cert: String?) {
        guard mode != "plain" else { return (try Peer("smtp_peer.py", ["plain"]), nil) }
        let folder = try Peer.scratchFolder()
        let (cert, key) = try certificate(in: folder)
        return (try Peer("smtp_peer.py", [mode, cert, key, "runbook", password], folder: folder), cert)
    }

    func channel(
        _ url: String, security: ChannelSettings.Email.Security, to: [String] = ["ops@example.com", "desk@example.com"], caFile: String? = nil,
        login: Bool = false, environment: [String: String] = login, timeout: Duration = .seconds(5)
    ) -> EmailChannel {
        var settings = ChannelSettings.Email(url: url, from: "runbook@example.com", to: to)
        settings.security = security
        settings.caFile = caFile
        if login {
            settings.usernameVariable = "SMTP_USER"
            settings.passwordVariable = "SMTP_PASSWORD"
        }
        let date = Date(timeIntervalSince1970: 1_776_159_000)  // Tue, 14 Apr 2026 09:30:00 UTC
        return EmailChannel(name: "ops-email", settings: settings, timeout: timeout, environment: { environment[$0] }, now: { date })
    }

    @Test func aPlainRelayGetsAWellFormedMessage() async throws {
        let (server, _) = try Self.server("plain")
        let email = channel("smtp://127.0.0.1:\(server.port)", security: .none)
        #expect(await email.deliver(message()) == .delivered)

        let received = try #require(server.received.first)
        #expect(received["mail_from"] as? String == "runbook@example.com")
        #expect(received["rcpt_tos"] as? [String] == ["ops@example.com", "desk@example.com"])
        #expect(received["defects"] as? [String] == [])
        #expect(received["subject"] as? String == "[#12.3] EA lost: ea-02")
        #expect(received["from"] as? String == "runbook@example.com")
        #expect(received["to"] as? String == "ops@example.com, desk@example.com")
        #expect(received["date"] as? String == "2026-04-14T09:30:00+00:00")
        #expect(received["message_id"] as? String == "<runbook.12.3.45@example.com>")
        #expect(received["content_type"] as? String == "text/plain")
        #expect(received["charset"] as? String == "utf-8")
        #expect(received["body"] as? String == "No heartbeat from ea-02 for 90s.\nLevel 2: alert.\n")

        // The bytes as they came: every line ends in CRLF, headers then a blank line then the body.
        let raw = String(decoding: Data(base64Encoded: received["raw"] as? String ?? "") ?? Data(), as: UTF8.self)
        let bare = raw.utf8.enumerated().filter { $0.element == UInt8(ascii: "\n") && ($0.offset == 0 || Array(raw.utf8)[$0.offset - 1] != UInt8(ascii: "\r")) }
        #expect(bare.isEmpty, "bare line feeds in \(raw.debugDescription)")
        #expect(raw.hasSuffix("\r\n\r\nNo heartbeat from ea-02 for 90s.\r\nLevel 2: alert.\r\n"))
        #expect(raw.contains("\r\nDate: Tue, 14 Apr 2026 09:30:00 +0000\r\n") || raw.hasPrefix("Date: Tue, 14 Apr 2026 09:30:00 +0000\r\n"))
        #expect(raw.contains("\r\nMIME-Version: 1.0\r\n"))
    }

    @Test func aSubjectAndBodyBeyondASCIIArriveIntact() async throws {
        let (server, _) = try Self.server("plain")
        let subject = "Ölpreis-Feed verloren — EA ea-02 antwortet nicht 🔥 seit 90 Sekunden, Eskalation auf Stufe 2"
        let body = "Zeile mit Umlauten: äöü ß\n.a line starting with a dot\n\nand one of \(String(repeating: "é", count: 600))"
        #expect(await channel("smtp://127.0.0.1:\(server.port)", security: .none).deliver(message(subject: subject, body: body)) == .delivered)
        let received = try #require(server.received.first)
        #expect(received["defects"] as? [String] == [])
        #expect(received["subject"] as? String == "[#12.3] \(subject)")
        #expect(received["body"] as? String == body + "\n")
        let raw = Data(base64Encoded: received["raw"] as? String ?? "") ?? Data()
        let lines = raw.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        #expect(lines.allSatisfy { $0.count <= 999 })
        #expect(raw.allSatisfy { $0 < 128 })
    }

    @Test func startTLSWithALoginTrustingTheTestsCertificate() async throws {
        let (server, cert) = try Self.server("starttls")
        let url = "smtp://127.0.0.1:\(server.port)"
        #expect(await channel(url, security: .starttls, caFile: cert, login: true).deliver(message()) == .delivered)
        let received = try #require(server.received.first)
        #expect(received["tls"] as? Bool == true)
        #expect(received["authenticated"] as? Bool == true)
        #expect(received["subject"] as? String == "[#12.3] EA lost: ea-02")

        // The certificate is not trusted without ca_file: nothing is sent, and it is said why.
        let untrusted = await channel(url, security: .starttls, login: true).deliver(message())
        #expect(untrusted.kind == "retry")
        #expect(untrusted.reason?.contains("set ca_file") == true, "\(untrusted)")

        // A wrong password is the server's 535: refused, and the password is not in the reason.
        let wrong = await channel(url, security: .starttls, caFile: cert, login: true, environment: ["SMTP_USER": "runbook", "SMTP_PASSWORD": "not-the-Pa55word"]).deliver(message())
        #expect(wrong.kind == "rejected")
        #expect(wrong.reason?.contains("535") == true, "\(wrong)")
        #expect(wrong.reason?.contains("not-the-Pa55word") == false)

        // A login variable that is not set is named, and tried again later.
        let unset = await channel(url, security: .starttls, caFile: cert, login: true, environment: ["SMTP_USER": "runbook"]).deliver(message())
        #expect(unset == .retry(after: nil, reason: "the mail login's environment variable SMTP_PASSWORD is not set where the engine runs: set it and the message goes out"))
        #expect(server.received.count == 1)
    }

    @Test func smtpsSpeaksTLSFromTheFirstByte() async throws {
        let (server, cert) = try Self.server("smtps")
        #expect(await channel("smtps://127.0.0.1:\(server.port)", security: .smtps, caFile: cert, login: true).deliver(message()) == .delivered)
        let received = try #require(server.received.first)
        #expect(received["tls"] as? Bool == true)
        #expect(received["authenticated"] as? Bool == true)
    }

    @Test func theServersRepliesDecide() async throws {
        let (server, _) = try Self.server("plain")
        let url = "smtp://127.0.0.1:\(server.port)"
        let refused = await channel(url, security: .none, to: ["ops@example.com", "refused@example.com"]).deliver(message())
        #expect(refused == .rejected(reason: "the mail server refused the message: 550 5.1.1 <refused@example.com>: Recipient address rejected: User unknown"))
        let busy = await channel(url, security: .none, to: ["busy@example.com"]).deliver(message())
        #expect(busy == .retry(after: nil, reason: "the mail server asked to try later: 451 4.3.0 Mailbox busy, try again later"))
        let bounced = await channel(url, security: .none, to: ["bounce@example.com"]).deliver(message())
        #expect(bounced == .rejected(reason: "the mail server refused the message: 554 5.7.1 Message rejected as spam"))
        // Only the bounced one reached the end of DATA.
        #expect(server.received.count == 1)
    }

    @Test func noAnswerAfterTheWholeMessageWentOutIsUncertain() async throws {
        let (server, _) = try Self.server("plain")
        let result = await channel("smtp://127.0.0.1:\(server.port)", security: .none, to: ["slow@example.com"], timeout: .seconds(1)).deliver(message())
        // The server answers 250 after 5 s: uncertain means the channel's timeout held (libcurl's
        // wait for the reply included) and it gave up before that.
        #expect(result == .uncertain(reason: "no answer within 1s after the whole message was sent to the mail server: it may have arrived"))
        #expect(server.received.count == 1)
    }

    @Test func noServerIsRetried() async throws {
        let result = await channel("smtp://127.0.0.1:\(closedPort)", security: .none).deliver(message())
        #expect(result.kind == "retry")
        #expect(result.reason?.contains("Couldn't connect to server") == true, "\(result)")
    }
}
