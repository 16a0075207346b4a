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
