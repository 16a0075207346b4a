import Foundation
import RunbookApp
import Hummingbird
import HummingbirdTesting
import RunbookModel
import RunbookServer
import Testing

/// The Host check that keeps DNS rebinding away from a dashboard on localhost.
@Suite struct HostCheckTests {
    static let rebound = "rebind.attacker.example"

    func server(_ settings: HTTPSettings = HTTPSettings()) -> RunbookHTTPServer {
        RunbookHTTPServer(settings: settings, token: "t0ken", backend: BackendScript().backend(ScriptedEngine()), snapshotMaxAge: .zero)
    }

    /// Every route with its parameters filled in, the dashboard and a path no route has.
    func everyPath(of server: RunbookHTTPServer) -> [(method: HTTPRequest.Method, uri: String)] {
        server.routeList().map { route in
            (route.method, route.path.replacingOccurrences(of: ":name", with: "telemetry-bridge").replacingOccurrences(of: ":id", with: "1"))
        } + [(.get, "/"), (.get, "/no-such-page")]
    }

    func status(_ client: some TestClientProtocol, host: String, uri: String = "/health/live", method: HTTPRequest.Method = .get) async throws -> HTTPResponse.Status {
        try await client.execute(uri: uri, method: method, headers: [.init("Host")!: host]) { $0.status }
    }

    @Test func aReboundHostIsRefusedOnEveryRoute() async throws {
        let server = server()
        let paths = everyPath(of: server)
        #expect(paths.contains { $0.method == .get && $0.uri == "/" })
        #expect(paths.contains { $0.method == .post })
        try await server.application().test(.router) { client in
            for path in paths {
                for host in [Self.rebound, "\(Self.rebound):8080", "127.0.0.1.nip.io", "localhost.attacker.example:8080"] {
                    let body = ByteBuffer(string: #"{"runbook":"ea-lost"}"#)
                    try await client.execute(uri: path.uri, method: path.method, headers: [.init("Host")!: host, .authorization: "Bearer t0ken"], body: body) { response in
                        #expect(response.status == .misdirectedRequest, "\(path.method) \(path.uri) with Host \(host)")
                        #expect((response.json["error"] as? String)?.contains("does not answer to the host '\(host)'") == true)
                    }
                }
            }
        }
    }

    @Test func loopbackNamesPassWithOrWithoutAPort() async throws {
        try await server().application().test(.router) { client in
            for host in ["localhost", "localhost:8080", "LocalHost.", "127.0.0.1", "127.0.0.1:8080", "127.1.2.3:9000", "[::1]", "[::1]:8080"] {
                let answer = try await status(client, host: host)
                #expect(answer == .ok, "Host \(host)")
            }
            let badPort = try await status(client, host: "localhost:http")
            #expect(badPort == .misdirectedRequest)
        }
    }

    @Test func beyondLoopbackTheListenAddressAndAllowedHostsPass() async throws {
        var settings = HTTPSettings()
        settings.host = "10.0.0.5"
        settings.allowedHosts = ["dashboard.example.com", "fd00::5"]
        try await server(settings).application().test(.router) { client in
            for host in ["10.0.0.5:8080", "dashboard.example.com", "Dashboard.Example.com:443", "[fd00::5]:8080", "localhost:8080"] {
                let answer = try await status(client, host: host)
                #expect(answer == .ok, "Host \(host)")
            }
            for host in [Self.rebound, "10.0.0.6:8080", "example.com"] {
                let answer = try await status(client, host: host)
                #expect(answer == .misdirectedRequest, "Host \(host)")
            }
        }
    }

    @Test func aRealServerReadsTheHostHeaderItself() async throws {
        try await server().application().test(.live) { client in
            let port = try #require(client.port)
            let refused = try await RawConnection(port: port).exchange("GET / HTTP/1.1\r\nHost: \(Self.rebound)\r\nConnection: close\r\n\r\n")
            #expect(refused.hasPrefix("HTTP/1.1 421"), "\(refused)")
            let answered = try await RawConnection(port: port).exchange("GET /health/live HTTP/1.1\r\nHost: localhost:\(port)\r\nConnection: close\r\n\r\n")
            #expect(answered.hasPrefix("HTTP/1.1 200"), "\(answered)")
        }
    }

    @Test func allowedHostsAndIdleTimeoutAreReadFromTheConfiguration() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("http-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("runbook.yaml")
        try "http: {listen: 0.0.0.0:8080, allowed_hosts: [dashboard.example.com, 10.0.0.5], idle_timeout: 5s}\n".write(to: file, atomically: true, encoding: .utf8)
        let config = try EngineConfig.load(path: file.path, environment: [:], channels: Catalog.channels)
        #expect(config.http.allowedHosts == ["dashboard.example.com", "10.0.0.5"])
        #expect(config.http.idleTimeout == .seconds(5))
        #expect(HTTPSettings().idleTimeout == .seconds(30))

        try "http:\n  allowed_hosts: [\"https://dashboard.example.com/\"]\n  idle_timeout: 0s\n".write(to: file, atomically: true, encoding: .utf8)
        var problems: [String] = []
        do {
            _ = try EngineConfig.load(path: file.path, environment: [:], channels: Catalog.channels)
        } catch {
            problems = error.diagnostics.map(\.description)
        }
        #expect(problems.count == 2)
        #expect(problems.first?.contains("runbook.yaml:2:19: error: 'https://dashboard.example.com/' is not a host name or address") == true)
        #expect(problems.last?.contains("runbook.yaml:3:17: error: http.idle_timeout must be longer than 0s") == true)
    }
}
