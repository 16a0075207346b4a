import Foundation
import Logging
import RunbookCurl
import RunbookModel
import RunbookSteps
import RunbookTestSupport
import Testing

/// A real HTTP server on loopback (Python's http.server) that answers a few paths.
final class LocalHTTPServer {
    let process = Process()
    let port: Int

    static let script = """
        import http.server, sys
        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args): pass
            def answer(self, status, body):
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            def do_GET(self):
                if self.path == "/health": self.answer(200, "healthy")
                else: self.answer(404, "no such page")
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode()
                self.answer(201, self.headers.get("Authorization", "") + "|" + body)
        server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        print(server.server_address[1], flush=True)
        server.serve_forever()
        """

    init() throws {
        let output = Pipe()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", Self.script]
        process.standardOutput = output
        try process.run()
        port = Int(firstLine(of: output)) ?? 0
    }

    deinit {
        // Processes started from a test thread inherit its blocked signals, SIGTERM among them.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}

@Suite struct HTTPStepTests {
    @Test func checksTheStatusAndKeepsTheBody() async throws {
        let server = try LocalHTTPServer()
        let harness = try StepHarness()
        defer { harness.remove() }
        let ok = try await harness.primitive("http", "url: http://127.0.0.1:\(server.port)/health").run(in: harness.context())
        #expect(ok.outputs["status"] == .number(200))
        #expect(ok.outputs["body"] == .string("healthy"))

        let failure = await #expect(throws: StepFailure.self) {
            try await harness.primitive("http", "url: http://127.0.0.1:\(server.port)/nope").run(in: harness.context())
        }
        #expect(failure?.message == "GET http://127.0.0.1:\(server.port)/nope answered 404, expected 2xx")
        #expect(failure?.outputs["body"] == .string("no such page"))
    }

    @Test func sendsMethodHeadersAndBody() async throws {
        let server = try LocalHTTPServer()
        let harness = try StepHarness()
        defer { harness.remove() }
        let post = try harness.primitive("http", """
            url: http://127.0.0.1:\(server.port)/runs
            method: post
            headers: {Authorization: Bearer t0k3n}
            body: '{"runbook":"ea-lost"}'
            expect_status: [201]
            """)
        let result = try await post.run(in: harness.context())
        #expect(result.outputs["body"] == .string("Bearer t0k3n|{\"runbook\":\"ea-lost\"}"))
    }

    @Test func aRefusedConnectionSaysSo() async throws {
        let harness = try StepHarness()
        defer { harness.remove() }
        let failure = await #expect(throws: StepFailure.self) {
            try await harness.primitive("http", "url: http://127.0.0.1:1/\ntimeout: 2s").run(in: harness.context())
        }
        #expect(failure?.message.contains("Couldn't connect to server") == true)
    }
}

@Suite struct JSONForwarderTests {
    @Test func documentsArePostedInTheBackground() async throws {
        let server = try LocalHTTPServer()
        let forwarder = JSONForwarder(url: "http://127.0.0.1:\(server.port)/signals", logger: Logger(label: "test"))
        for id in 1...3 { forwarder.send(#"{"type":"signal","signal_id":"S\#(id)"}"#) }
        let deadline = ContinuousClock.now + .seconds(10)
        while forwarder.counts.sent < 3, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(forwarder.counts.sent == 3)
        #expect(forwarder.counts.failed == 0)
    }

    @Test func aDeadEndpointCostsCountsNotMemory() async throws {
        // A listener that never answers: the first POST waits out its 5 s timeout, so of ten
        // sends in a row against a queue of two, two wait and eight are dropped and counted.
        let silent = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(silent) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(silent, $0, length) == 0 && listen(silent, 16) == 0 && getsockname(silent, $0, &length) == 0 }
        }
        try #require(bound)
        let port = Int(UInt16(bigEndian: address.sin_port))
        let forwarder = JSONForwarder(url: "http://127.0.0.1:\(port)/signals", capacity: 2, logger: Logger(label: "test"))
        for _ in 0..<10 { forwarder.send("{}") }
        #expect(forwarder.counts.dropped == 8)
        let deadline = ContinuousClock.now + .seconds(30)
        while forwarder.counts.failed < 2, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        #expect(forwarder.counts.sent == 0 && forwarder.counts.failed == 2)
    }
}
