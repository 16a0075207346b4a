import CCurl
import Foundation
import RunbookChecks
import RunbookModel
import RunbookSteps

/// An HTTP endpoint answers with the expected status; its latency is the value. Another status,
/// or no answer, is critical whatever the limits.
public struct HTTPProbe: Probe {
    public static let spec = ProbeSpec(
        name: "http", summary: "an HTTP endpoint answers with the expected status (value: latency in ms)",
        inputs: [InputSpec("url", .string, required: true), InputSpec("expect_status", .stringList)], unit: .milliseconds,
        warning: Threshold(.above, 1000), shorthand: "url"
    )

    public var url: String
    public var expectStatus: [String]

    public init(inputs: [String: Value]) throws(ProbeInputError) {
        url = inputs.text("url") ?? ""
        guard url.hasPrefix("http://") || url.hasPrefix("https://") else { throw ProbeInputError("http url '\(url)' must start with http:// or https://") }
        expectStatus = inputs.texts("expect_status")
        if expectStatus.isEmpty { expectStatus = ["2xx"] }
        for pattern in expectStatus where !HTTPStep.isStatusPattern(pattern) {
            throw ProbeInputError("expect_status '\(pattern)' is not a status such as 200 or a class such as 2xx")
        }
    }

    /// The URL without credentials or query, for reports: those may hold secrets.
    var shown: String {
        guard var parts = URLComponents(string: url) else { return "the endpoint" }
        parts.user = nil
        parts.password = nil
        parts.query = nil
        return parts.string ?? "the endpoint"
    }

    public func read(in environment: EngineServices) async throws -> ProbeReading {
        let curl = try CurlEasy()
        try curl.set(CURLOPT_URL, url)
        try curl.set(CURLOPT_NOBODY, 0)
        try curl.set(CURLOPT_FOLLOWLOCATION, 0)
        try curl.set(CURLOPT_TIMEOUT_MS, 10_000)
        curl.setBodyLimit(1024)
        do {
            _ = try await curl.perform()
        } catch let failure as CurlEasy.Failure {
            return ProbeReading(value: nil, text: "no answer: \(failure.description)", subject: shown, status: .critical)
        }
        let status = curl.info(CURLINFO_RESPONSE_CODE)
        let milliseconds = curl.infoSeconds(CURLINFO_TOTAL_TIME) * 1000
        guard expectStatus.contains(where: { HTTPStep.matches(status, $0) }) else {
            return ProbeReading(value: milliseconds, text: "answered \(status), expected \(expectStatus.joined(separator: " or "))", subject: shown, status: .critical)
        }
        return ProbeReading(value: milliseconds, text: String(format: "%d in %.0f ms", status, milliseconds), subject: shown)
    }
}

extension ProbeRegistry {
    /// The probes that speak network protocols through libcurl.
    public static let curl = ProbeRegistry([HTTPProbe.self])
}
