import Foundation
import Hummingbird

/// Lets reads through and asks every other method (POST, PUT, PATCH, DELETE, on any path,
/// routed or not) for `Authorization: Bearer TOKEN`. The token is compared in constant time and
/// never written back, logged or put in an error.
struct TokenMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext

    let token: [UInt8]?
    let variable: String

    init(token: String?, variable: String) {
        self.token = token.map { Array($0.utf8) }
        self.variable = variable
    }

    static let reads: Set<HTTPRequest.Method> = [.get, .head, .options]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if Self.reads.contains(request.method) { return try await next(request, context) }
        guard let token else {
            return JSON.error(.forbidden, """
                changes through the API are turned off: no API token is configured. Set \(variable) in the engine's environment \
                and restart it, then send Authorization: Bearer TOKEN
                """)
        }
        guard let header = request.headers[.authorization] else {
            return Self.unauthorized("this call changes the engine and needs Authorization: Bearer TOKEN (the value of \(variable))")
        }
        let prefix = "bearer "
        guard header.count > prefix.count, header.prefix(prefix.count).lowercased() == prefix else {
            return Self.unauthorized("the Authorization header is not a bearer token: send Authorization: Bearer TOKEN")
        }
        let given = Array(header.utf8.dropFirst(prefix.count))
        guard Self.equal(given, token) else {
            return Self.unauthorized("the bearer token is not the engine's API token (\(variable))")
        }
        return try await next(request, context)
    }

    static func unauthorized(_ message: String) -> Response {
        var response = JSON.error(.unauthorized, message)
        response.headers[.wwwAuthenticate] = "Bearer realm=\"runbook\""
        return response
    }

    /// Equal bytes, in a time that depends on the lengths only, not on where they differ.
    static func equal(_ given: [UInt8], _ expected: [UInt8]) -> Bool {
        var difference = UInt8(given.count == expected.count ? 0 : 1)
        for index in 0..<max(given.count, expected.count) {
            let a = index < given.count ? given[index] : 0
            let b = index < expected.count ? expected[index] : 0
            difference |= a ^ b
        }
        return difference == 0
    }
}
