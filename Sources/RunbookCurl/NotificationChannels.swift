import CCurl
import Foundation
import RunbookEscalation
import RunbookModel

extension ChannelRegistry {
    /// The channels that go through libcurl. A new channel here: its file, and its line in this list.
    public static let curl = ChannelRegistry([
        ChannelSettings.Telegram.self,
        ChannelSettings.Email.self,
        ChannelSettings.Webhook.self,
    ])
}

extension DeliveryResult {
    /// The same result with every occurrence of the secrets in its reason masked: a server may
    /// echo what it was sent.
    func masking(_ secrets: [String?]) -> DeliveryResult {
        let secrets = Secrets(secrets.compactMap { $0 })
        switch self {
        case .delivered: return self
        case .retry(let after, let reason): return .retry(after: after, reason: secrets.mask(reason))
        case .uncertain(let reason): return .uncertain(reason: secrets.mask(reason))
        case .rejected(let reason): return .rejected(reason: secrets.mask(reason))
        }
    }
}

/// A JSON POST for the HTTP channels, and how it ended.
struct JSONPost {
    var url: String
    var json: Data
    var headers: [String: String] = [:]
    var timeout: Duration
    /// The most of an answer kept: a channel's answers are short, `getUpdates`' longer.
    var bodyLimit = 16 * 1024

    struct Outcome {
        var status = 0
        var body = Data()
        var headers: [String] = []
        /// libcurl's failure, if the transfer did not complete.
        var failure: CurlEasy.Failure?
        var cancelled = false
        /// Whether the request went out (the connection was up and the request about to be sent or
        /// sent): after that, a lost answer leaves it unknown whether the server acted on it.
        var sent = false
    }

    func send() async -> Outcome {
        var outcome = Outcome()
        let curl: CurlEasy
        do {
            curl = try CurlEasy()
            try curl.set(CURLOPT_URL, url)
            try curl.set(CURLOPT_POST, 1)
            try curl.set(CURLOPT_POSTFIELDSIZE, json.count)
            try curl.set(CURLOPT_COPYPOSTFIELDS, String(decoding: json, as: UTF8.self))
            try curl.set(CURLOPT_TIMEOUT_MS, max(1, Int(timeout.milliseconds)))
            try curl.set(CURLOPT_FOLLOWLOCATION, 0)
            try curl.set(CURLOPT_USERAGENT, "runbook")
            // No "Expect: 100-continue" round trip for bodies over 1 KiB.
            try curl.setHeaders(headers.merging(["Content-Type": "application/json", "Expect": ""]) { $1 })
            curl.setBodyLimit(bodyLimit)
        } catch {
            outcome.failure = error as? CurlEasy.Failure ?? CurlEasy.Failure(code: -1, description: "\(error)")
            return outcome
        }
        do {
            let response = try await curl.perform()
            outcome.body = response.body
        } catch let failure as CurlEasy.Failure {
            outcome.failure = failure
        } catch {
            outcome.cancelled = true
        }
        outcome.status = curl.info(CURLINFO_RESPONSE_CODE)
        outcome.headers = curl.responseHeaders
        outcome.sent = curl.infoSeconds(CURLINFO_PRETRANSFER_TIME) > 0
        return outcome
    }

    /// How a POST ended, for a channel that takes any 2xx: 429, 408 and 5xx are tried again
    /// (after the wait the server asked for), other answers are refusals, and a transfer that broke
    /// after the request went out is uncertain. `detail` says what an answer's body explains.
    static func result(
        of outcome: Outcome, peer: String, timeout: Duration, retryAfter: Duration? = nil, detail: (Data) -> String?
    ) -> DeliveryResult {
        if outcome.cancelled {
            return outcome.sent
                ? .uncertain(reason: "stopped while waiting for \(peer)'s answer: the message may have arrived")
                : .retry(after: nil, reason: "stopped before the message was sent to \(peer)")
        }
        if let failure = outcome.failure {
            let lost = [CURLE_OPERATION_TIMEDOUT, CURLE_RECV_ERROR, CURLE_GOT_NOTHING, CURLE_PARTIAL_FILE].map { Int($0.rawValue) }
            if outcome.sent, lost.contains(failure.code) {
                let what = failure.code == Int(CURLE_OPERATION_TIMEDOUT.rawValue) ? "no answer within \(DurationText.format(timeout))" : failure.description
                return .uncertain(reason: "\(what) after the message was sent to \(peer): it may have arrived")
            }
            return .retry(after: nil, reason: "\(peer) could not be reached: \(failure.description)")
        }
        let status = outcome.status
        let explained = detail(outcome.body).map { ": \($0)" } ?? ""
        switch status {
        case 200..<300:
            return .delivered
        case 429:
            return .retry(after: retryAfter ?? Self.retryAfter(outcome.headers), reason: "\(peer) asked to slow down (429)\(explained)")
        case 408, 500..<600:
            return .retry(after: Self.retryAfter(outcome.headers), reason: "\(peer) answered \(status)\(explained)")
        default:
            return .rejected(reason: "\(peer) refused the message (\(status))\(explained)")
        }
    }

    /// A Retry-After header's wait: seconds, or an HTTP date.
    static func retryAfter(_ headers: [String]) -> Duration? {
        for line in headers {
            guard let colon = line.firstIndex(of: ":"), line[..<colon].trimmingCharacters(in: .whitespaces).lowercased() == "retry-after" else { continue }
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            if let seconds = Int(value), seconds >= 0 { return .seconds(seconds) }
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "GMT")
            formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
            if let date = formatter.date(from: value) { return .seconds(max(0, Int(date.timeIntervalSinceNow.rounded(.up)))) }
        }
        return nil
    }

    /// A short, one-line excerpt of a response body, for a reason.
    static func excerpt(_ body: Data, limit: Int = 200) -> String? {
        let text = String(decoding: body, as: UTF8.self).split(whereSeparator: \.isNewline).joined(separator: " ")
            .trimmingCharacters(in: .whitespaces)
        guard !text.isEmpty else { return nil }
        return text.count > limit ? String(text.prefix(limit)) + "..." : text
    }
}

extension OutgoingMessage {
    /// "[#12.3]": the incident and the message's number within it, at the head of every message;
    /// "[notice 40]" for a message about no incident (a report), with its outbox number.
    var tag: String { incidentID == 0 ? "[notice \(id)]" : "[#\(incidentID).\(sequence)]" }

    /// The subject on one line.
    var subjectLine: String {
        subject.split(whereSeparator: { $0 == "\n" || $0 == "\r" }).joined(separator: " ")
    }

    /// The same message everywhere: "runbook.12.3.45" (incident, sequence, outbox row), so that a
    /// resend is recognisable.
    var deliveryKey: String { "runbook.\(incidentID).\(sequence).\(id)" }
}
