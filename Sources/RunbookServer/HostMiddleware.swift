import Foundation
import Hummingbird
import RunbookModel

/// Answers only requests whose Host names this server, on every path, routed or not. A page of
/// another site whose name was made to resolve to this address (DNS rebinding) still sends its
/// own name as Host, and is refused with 421 before any route runs, so it cannot read the
/// dashboard or the API of a server on localhost.
///
/// Allowed: the loopback names (`localhost`, 127.0.0.0/8, `[::1]`), the listen address and the
/// names of `http.allowed_hosts`, each with any port or none. A request without Host, which no
/// browser sends, is not refused.
struct HostMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext

    /// Lower case, IPv6 addresses without brackets.
    let allowed: Set<String>

    init(settings: HTTPSettings) {
        allowed = Set(([settings.host] + settings.allowedHosts).compactMap { Self.hostName(of: $0) })
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        // The first Host of the request is its authority; a second one stays among the fields.
        let given = [request.head.authority].compactMap { $0 } + request.headers.filter { $0.name.canonicalName == "host" }.map(\.value)
        if let refused = given.first(where: { !isAllowed($0) }) {
            return JSON.error(.misdirectedRequest, """
                this server does not answer to the host '\(refused.prefix(120))': use http://localhost:PORT, or add the name to \
                http.allowed_hosts in runbook.yaml
                """)
        }
        return try await next(request, context)
    }

    func isAllowed(_ value: String) -> Bool {
        guard let name = Self.hostName(of: value) else { return false }
        return Self.isLoopback(name) || allowed.contains(name)
    }

    /// The host of a Host value (`name`, `name:port`, `[v6]`, `[v6]:port`), lower case, without
    /// the brackets or a trailing dot; nil when the port is not a number.
    static func hostName(of value: String) -> String? {
        var host = Substring(value.lowercased())
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return nil }
            let rest = host[host.index(after: close)...]
            guard rest.isEmpty || (rest.hasPrefix(":") && rest.dropFirst().allSatisfy(\.isNumber)) else { return nil }
            host = host[host.index(after: host.startIndex)..<close]
        } else if let colon = host.firstIndex(of: ":"), host.lastIndex(of: ":") == colon {
            guard host[host.index(after: colon)...].allSatisfy(\.isNumber) else { return nil }
            host = host[..<colon]
        }
        if host.hasSuffix(".") { host = host.dropLast() }
        return host.isEmpty ? nil : String(host)
    }

    /// `localhost`, an IPv4 address in 127.0.0.0/8 or `::1`, read as addresses are, never by
    /// prefix: `127.0.0.1.example.com` is a name anyone can register.
    static func isLoopback(_ name: String) -> Bool {
        if name == "localhost" { return true }
        var v4 = in_addr()
        if inet_pton(AF_INET, name, &v4) == 1 { return UInt32(bigEndian: v4.s_addr) >> 24 == 127 }
        var v6 = in6_addr()
        guard inet_pton(AF_INET6, name, &v6) == 1 else { return false }
        return withUnsafeBytes(of: &v6) { bytes in bytes.dropLast().allSatisfy { $0 == 0 } && bytes.last == 1 }
    }
}
