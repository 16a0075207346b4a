import Foundation
import Hummingbird
import RunbookChecks
import RunbookCore

/// JSON responses: snake_case keys, ISO 8601 times, as the state file and `--json` output.
enum JSON {
    /// As `EngineSnapshot.encoder` writes the state file, with a time format made once: a new
    /// ISO8601DateFormatter per time costs more than the rest of a health answer.
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        let format = Date.ISO8601FormatStyle()
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(format.format(date))
        }
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    static func response<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) -> Response {
        do {
            return data(try encoder.encode(value), status: status)
        } catch {
            return JSON.error(.internalServerError, "cannot encode the answer: \(error)")
        }
    }

    static func data(_ data: Data, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json; charset=utf-8", .cacheControl: "no-store"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: data))
        )
    }

    struct Failure: Encodable {
        var error: String
    }

    static func error(_ status: HTTPResponse.Status, _ message: String) -> Response {
        response(Failure(error: message), status: status)
    }
}
