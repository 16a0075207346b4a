import CCurl
import Foundation
import RunbookModel
import RunbookSteps

/// Sends an HTTP request with libcurl and checks the status.
public struct HTTPStep: StepPrimitive {
    public static let spec = PrimitiveSpec(
        name: "http",
        summary: "send an HTTP request and check the status",
        inputs: [
            InputSpec("url", .string, required: true),
            InputSpec("method", .string),
            InputSpec("headers", .stringMap),
            InputSpec("body", .string),
            InputSpec("expect_status", .stringList),
            InputSpec("timeout", .duration),
            InputSpec("output_limit", .size),
        ],
        outputs: ["status", "body", "time"],
        shorthand: "url"
    )

    public var url: String
    public var method: String
    public var headers: [String: String]
    public var body: String?
    /// Accepted statuses: `200`, or a class such as `2xx`.
    public var expectStatus: [String]
    public var timeout: Duration
    public var outputLimit: Int

    public init(inputs: ResolvedInputs) throws(StepInputError) {
        url = try inputs.string("url")
        method = inputs.string("method", default: "GET").uppercased()
        headers = inputs.stringMap("headers")
        body = inputs.has("body") ? try inputs.string("body") : nil
        expectStatus = inputs.strings("expect_status", default: ["2xx"])
        for pattern in expectStatus where !Self.isStatusPattern(pattern) {
            throw StepInputError("expect_status '\(pattern)' is not a status such as 200 or a class such as 2xx")
        }
        timeout = try inputs.duration("timeout", default: .seconds(30))
        outputLimit = Int(try inputs.size("output_limit") ?? 64 * 1024)
    }

    public func describe() -> String {
        "\(method) \(url)" + (body.map { " with a \($0.utf8.count)-byte body" } ?? "") + ", expecting \(expectStatus.joined(separator: " or "))"
    }

    public func run(in context: StepContext) async throws -> StepResult {
        let curl: CurlEasy
        let response: (body: Data, dropped: Int)
        do {
            curl = try CurlEasy()
            try curl.set(CURLOPT_URL, url)
            try curl.set(CURLOPT_CUSTOMREQUEST, method)
            if method == "HEAD" { try curl.set(CURLOPT_NOBODY, 1) }
            if let body { try curl.set(CURLOPT_COPYPOSTFIELDS, body) }
            try curl.set(CURLOPT_TIMEOUT_MS, Int(timeout.milliseconds))
            try curl.set(CURLOPT_FOLLOWLOCATION, 0)
            try curl.setHeaders(headers)
            curl.setBodyLimit(outputLimit)
            response = try await curl.perform()
        } catch let failure as CurlEasy.Failure {
            throw StepFailure("\(method) \(url) failed: \(failure.description)")
        }
        let status = curl.info(CURLINFO_RESPONSE_CODE)
        let text = String(decoding: response.body, as: UTF8.self) + (response.dropped > 0 ? "\n[... \(response.dropped) bytes left out ...]" : "")
        let outputs: [String: Value] = [
            "status": .number(Double(status)), "body": .string(text), "time": .number(curl.infoSeconds(CURLINFO_TOTAL_TIME)),
        ]
        guard expectStatus.contains(where: { Self.matches(status, $0) }) else {
            throw StepFailure("\(method) \(url) answered \(status), expected \(expectStatus.joined(separator: " or "))", output: text, outputs: outputs)
        }
        return StepResult(outputs: outputs, output: "\(status)\n\(text)")
    }

    static func isStatusPattern(_ pattern: String) -> Bool {
        pattern.count == 3 && pattern.first.map { ("1"..."5").contains($0) } == true
            && pattern.dropFirst().allSatisfy { $0.isNumber || $0 == "x" || $0 == "X" }
    }

    static func matches(_ status: Int, _ pattern: String) -> Bool {
        zip(String(status), pattern.lowercased()).allSatisfy { $1 == "x" || $0 == $1 } && String(status).count == 3
    }
}

extension StepRegistry {
    /// The primitives that speak network protocols through libcurl.
    public static let curl = StepRegistry([HTTPStep.self])
}
