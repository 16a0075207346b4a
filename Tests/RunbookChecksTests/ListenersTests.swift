import Foundation
@testable import RunbookChecks
import RunbookTestSupport
import Testing

@Suite struct ListenersTests {
    /// The kernel's socket diagnostics and /proc/net/tcp name the same listening sockets, IPv4
    /// and IPv6, and forget them when their program ends.
    @Test func socketDiagnosticsAgreeWithProc() async throws {
        let port = Int.random(in: 33_500..<34_000)
        let v4 = try PortSquatter(port: port)
        let v6 = Process()
        v6.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        v6.arguments = ["-c", "import socket,time; s=socket.socket(socket.AF_INET6); s.bind(('::1', \(port + 1))); s.listen(); time.sleep(60)"]
        try v6.run()
        defer {
            if v6.isRunning {
                kill(v6.processIdentifier, SIGKILL)
                v6.waitUntilExit()
            }
        }
        #expect(await eventually { Listeners.fromProc()[port] != nil && Listeners.fromProc()[port + 1] != nil })
        let diagnosed = try #require(Listeners.diagnosed())
        let proc = Listeners.fromProc()
        #expect(diagnosed[port] == proc[port])
        #expect(diagnosed[port + 1] == proc[port + 1])
        #expect(Listeners.holderPIDs(of: port) == [v4.pid])

        kill(v6.processIdentifier, SIGKILL)
        v6.waitUntilExit()
        #expect(await eventually { Listeners.diagnosed()?[port + 1] == nil })
        #expect(Listeners.fromProc()[port + 1] == nil)
        withExtendedLifetime(v4) {}
    }
}
