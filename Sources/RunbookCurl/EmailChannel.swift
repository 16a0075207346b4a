import CCurl
import Foundation
import RunbookEscalation
import RunbookModel

/// E-mail over SMTP through libcurl: STARTTLS (required) on `smtp://`, TLS from the first byte on
/// `smtps://`, or plain SMTP to a relay on this machine; a login from environment variables.
public struct EmailChannel: NotificationChannel {
    public let name: String
    public let settings: ChannelSettings.Email
    public let timeout: Duration
    private let environment: EnvironmentLookup
    private let now: @Sendable () -> Date

    public var minimumInterval: Duration { .zero }

    public init(
        name: String, settings: ChannelSettings.Email, timeout: Duration = .seconds(10), environment: @escaping EnvironmentLookup,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.name = name
        self.settings = settings
        self.timeout = timeout
        self.environment = environment
        self.now = now
    }

    public func deliver(_ message: OutgoingMessage) async -> DeliveryResult {
        var login: (user: String, password: String)?
        if let userVariable = settings.usernameVariable, let passwordVariable = settings.passwordVariable {
            for variable in [userVariable, passwordVariable] where (environment(variable) ?? "").isEmpty {
                return .retry(after: nil, reason: "the mail login's environment variable \(variable) is not set where the engine runs: set it and the message goes out")
            }
            login = (environment(userVariable) ?? "", environment(passwordVariable) ?? "")
        }
        let text = EmailMessage.render(message, from: settings.from, to: settings.to, date: now())
        let result = await send(Array(text.utf8), login: login)
        return result.masking([login?.password])
    }

    private func send(_ data: [UInt8], login: (user: String, password: String)?) async -> DeliveryResult {
        let curl: CurlEasy
        do {
            curl = try CurlEasy()
            try curl.set(CURLOPT_URL, settings.url)
            try curl.set(CURLOPT_MAIL_FROM, "<\(settings.from)>")
            try curl.set(CURLOPT_MAIL_RCPT, list: settings.to.map { "<\($0)>" })
            try curl.set(CURLOPT_USE_SSL, Int(settings.security == .none ? CURLUSESSL_NONE.rawValue : CURLUSESSL_ALL.rawValue))
            if let caFile = settings.caFile { try curl.set(CURLOPT_CAINFO, caFile) }
            if let login {
                try curl.set(CURLOPT_USERNAME, login.user)
                try curl.set(CURLOPT_PASSWORD, login.password)
            }
            try curl.set(CURLOPT_TIMEOUT_MS, max(1, Int(timeout.milliseconds)))
            // libcurl waits for the reply to the end of DATA without the transfer's timeout, up to
            // the server response timeout (two minutes unless set).
            try curl.set(CURLOPT_SERVER_RESPONSE_TIMEOUT, max(1, Int((timeout.seconds).rounded(.up))))
            // Close (QUIT) at the end of the transfer, on its thread, not when the handle goes.
            try curl.set(CURLOPT_FORBID_REUSE, 1)
            try curl.setUpload(data)
            try curl.keepServerLines()
        } catch {
            return .retry(after: nil, reason: "cannot prepare the mail transfer: \(error)")
        }
        var failure: CurlEasy.Failure?
        var cancelled = false
        do {
            _ = try await curl.perform()
        } catch let error as CurlEasy.Failure {
            failure = error
        } catch {
            cancelled = true
        }
        if failure == nil, !cancelled { return .delivered }

        let code = curl.info(CURLINFO_RESPONSE_CODE)
        let server = curl.serverLines.last { $0.hasPrefix(String(code)) } ?? curl.serverLines.last ?? ""
        let said = server.isEmpty ? "" : ": \(server)"
        // A reply of the server's decides, whatever libcurl made of it.
        switch code {
        case 500..<600: return .rejected(reason: "the mail server refused the message\(said)")
        case 400..<500: return .retry(after: nil, reason: "the mail server asked to try later\(said)")
        default: break
        }
        if settings.security != .none, failure.map({ [CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE].map { Int($0.rawValue) }.contains($0.code) }) == true {
            return .retry(after: nil, reason: "the mail server's certificate is not trusted (\(failure!.description)): set ca_file to the authority that signed it")
        }
        if cancelled {
            return curl.uploadFinished
                ? .uncertain(reason: "stopped while waiting for the mail server to accept the message: it may have arrived")
                : .retry(after: nil, reason: "stopped before the message was sent to the mail server")
        }
        let failureCode = failure?.code ?? 0
        let lost = [CURLE_OPERATION_TIMEDOUT, CURLE_RECV_ERROR, CURLE_GOT_NOTHING].map { Int($0.rawValue) }
        if curl.uploadFinished, lost.contains(failureCode) {
            let what = failureCode == Int(CURLE_OPERATION_TIMEDOUT.rawValue) ? "no answer within \(DurationText.format(timeout))" : failure?.description ?? "no answer"
            return .uncertain(reason: "\(what) after the whole message was sent to the mail server: it may have arrived")
        }
        return .retry(after: nil, reason: "the mail server could not be reached: \(failure?.description ?? "no answer")\(said)")
    }
}

extension ChannelSettings {
    /// E-mail over SMTP through libcurl.
    public struct Email: ChannelKind, Equatable {
        public enum Security: String, Sendable, Equatable, CaseIterable {
            /// Plain SMTP upgraded with STARTTLS (required).
            case starttls
            /// TLS from the first byte (smtps://, port 465).
            case smtps
            /// No TLS: loopback relays only.
            case none
        }

        public static let spec = ChannelSpec(
            type: "email", keys: ["url", "security", "from", "to", "username_env", "password_env", "ca_file"], secretKey: "password_env"
        )
        /// `smtp://host:port` or `smtps://host:port`.
        public var url: String
        public var security: Security = .starttls
        public var from: String
        public var to: [String]
        /// Environment variables holding the login, when the server asks for one.
        public var usernameVariable: String?
        public var passwordVariable: String?
        /// A PEM file of the certificate authorities to trust for the server's certificate, instead
        /// of the system's (a private CA, or a self-signed certificate).
        public var caFile: String?

        public init(url: String, from: String, to: [String]) {
            self.url = url
            self.from = from
            self.to = to
        }

        public static func read(_ fields: inout ChannelFields) -> Self? {
            let what = fields.what
            guard fields.field("url") != nil else {
                fields.error(fields.entry, "\(what) needs url: write url: \"smtp://mail.example.com:587\" (STARTTLS) or \"smtps://mail.example.com:465\"")
                return nil
            }
            guard case let (value, parts)? = fields.url(
                      "url", schemes: ["smtp", "smtps"], example: "smtp://mail.example.com:587 or smtps://mail.example.com:465", login: "username_env and password_env"),
                  let from = fields.required("from", example: "runbook@example.com"), let fromField = fields.field("from")
            else { return nil }
            guard ChannelSettings.isAddress(from) else {
                fields.error(fromField, "\(what).from '\(from)' is not an e-mail address: write a bare address such as runbook@example.com")
                return nil
            }
            guard let toField = fields.field("to") else {
                fields.error(fields.entry, "\(what) needs to: write to: [ops@example.com]")
                return nil
            }
            let toItems = fields.items(toField)
            var to: [String] = []
            for item in toItems {
                guard let address = fields.string(item, what: "\(what).to") else { continue }
                if ChannelSettings.isAddress(address) {
                    to.append(address)
                } else {
                    fields.error(item, "\(what).to '\(address)' is not an e-mail address: write bare addresses such as ops@example.com")
                }
            }
            guard !to.isEmpty else {
                if toItems.isEmpty { fields.error(toField, "\(what).to is empty: write at least one address, such as to: [ops@example.com]") }
                return nil
            }
            var email = Email(url: value, from: from, to: to)
            let implicitTLS = parts.scheme?.lowercased() == "smtps"
            email.security = implicitTLS ? .smtps : .starttls
            if let securityField = fields.field("security"), let word = fields.string(securityField, what: "\(what).security") {
                guard let security = Security(rawValue: word) else {
                    fields.error(securityField, "unknown security '\(word)' for \(what)\(Suggestion.hint(for: word, in: Security.allCases.map(\.rawValue))): write starttls, smtps or none")
                    return nil
                }
                if implicitTLS, security != .smtps {
                    fields.error(securityField, "\(what): an smtps:// url is TLS from the first byte: write security: smtps, or an smtp:// url for \(word)")
                    return nil
                }
                if !implicitTLS, security == .smtps {
                    fields.error(securityField, "\(what): security smtps needs an smtps:// url: write url: \"smtps://\(parts.host ?? "mail.example.com"):465\"")
                    return nil
                }
                if security == .none, !ChannelSettings.isLoopback(parts.host ?? "") {
                    fields.error(securityField, "\(what): security none sends mail in the clear, which is only allowed to a relay on this machine (127.0.0.1): write security: starttls")
                    return nil
                }
                email.security = security
            }
            email.usernameVariable = fields.variable("username_env", example: "HOOK_TOKEN")
            email.passwordVariable = fields.variable("password_env", example: "SMTP_PASSWORD")
            // (A password written in the file has been refused already, saying what to write.)
            if !fields.refusedSecret, (fields.field("username_env") == nil) != (fields.field("password_env") == nil) {
                let missing = fields.field("username_env") == nil ? "username_env: SMTP_USER" : "password_env: SMTP_PASSWORD"
                fields.error(fields.entry, "\(what): a login needs both variables: write \(missing) too")
            }
            if let caField = fields.field("ca_file"), let path = fields.string(caField, what: "\(what).ca_file") {
                let resolved = fields.path(path)
                if email.security == .none {
                    fields.error(caField, "\(what).ca_file has no use with security none: remove it, or write security: starttls")
                } else if !FileManager.default.isReadableFile(atPath: resolved) {
                    fields.error(caField, "\(what).ca_file '\(path)' cannot be read: give the path of a PEM file with the certificate authority that signed the server's certificate")
                } else {
                    email.caFile = resolved
                }
            }
            return email
        }

        public func channel(name: String, timeout: Duration, environment: @escaping EnvironmentLookup) -> any NotificationChannel {
            EmailChannel(name: name, settings: self, timeout: timeout, environment: environment)
        }
    }
}
