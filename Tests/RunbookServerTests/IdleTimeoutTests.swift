import Foundation
import Hummingbird
import HummingbirdTesting
import RunbookModel
import RunbookServer
import Testing

/// Idle connections are closed, so that a client holding many open cannot use the server up.
@Suite struct IdleTimeoutTests {
    @Test func theServerClosesConnectionsLeftIdle() async throws {
        var settings = HTTPSettings()
        settings.idleTimeout = .seconds(1)
        let server = RunbookHTTPServer(settings: settings, token: nil, backend: BackendScript().backend(ScriptedEngine()), snapshotMaxAge: .zero)
        try await server.application().test(.live) { client in
            let port = try #require(client.port)
            // Connected and silent, and connected after one answered request on a kept-alive connection.
            let silent = try (0..<3).map { _ in try RawConnection(port: port) }
            let kept = try RawConnection(port: port)
            try kept.send("GET /health/live HTTP/1.1\r\nHost: localhost\r\n\r\n")
            for connection in silent {
                // The assertion is that it closes, not how fast: the bound is generous.
                #expect(await connection.readUntilClosed(within: .seconds(20)) == "")
            }
            let answer = await kept.readUntilClosed(within: .seconds(20))
            #expect(answer?.hasPrefix("HTTP/1.1 200") == true, "\(answer ?? "still open")")
        }
    }
}
