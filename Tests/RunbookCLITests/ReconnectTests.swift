import Foundation
import RunbookTestSupport
import Testing

/// An EA that reconnects before its old connection is gone, as a real one does after a network
/// blip: a second process takes the routing id, the first is killed. With libzmq 4.3.4 this once
/// aborted the whole engine about 12 s later (`!_io_error`, stream_engine_base.cpp:331).
@Suite(.serialized) struct ReconnectTests {
    static let peer = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Peers/reconnect_ea.py").path
    static let pairs = 20

    func startPeer(_ cli: CLIHarness, router: Int, id: String, output name: String) throws -> (Process, URL) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [Self.peer, "tcp://127.0.0.1:\(router)", id]
        let output = cli.folder.appendingPathComponent(name)
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: output)
        try process.run()
        return (process, output)
    }

    func fires(_ output: URL) -> [String] {
        ((try? String(contentsOf: output, encoding: .utf8)) ?? "").split(separator: "\n").compactMap {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])?["fire_id"] as? String
        }
    }

    /// Twenty EAs play the sequence at once: A heartbeats, B connects with A's routing id from
    /// another process, A is killed 3 s later. The engine must outlive the time the abort took,
    /// and each B must receive its fires.
    @Test func anEAReconnectingWithItsRoutingIDDoesNotStopTheEngine() async throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        let ports = EnginePorts()
        try cli.write("runbook.yaml", ports.config(queue: cli.path("queue.ipc")))
        let engine = try cli.start(["up", "--log-format", "text"])
        #expect(await eventually { FileManager.default.fileExists(atPath: cli.path("var/engine-state.json")) })
        let ids = (1...Self.pairs).map { String(format: "ea-%02d", $0) }
        let first = try ids.map { try startPeer(cli, router: ports.router, id: $0, output: "\($0)-a.out") }
        try await Task.sleep(for: .seconds(2))
        let second = try ids.map { try startPeer(cli, router: ports.router, id: $0, output: "\($0)-b.out") }
        defer { for (process, _) in first + second where process.isRunning { kill(process.processIdentifier, SIGKILL) } }
        try await Task.sleep(for: .seconds(3))
        for (process, _) in first {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        // The abort came 8 to 12 s after the kill; give it twice that.
        for _ in 0..<24 {
            try await Task.sleep(for: .seconds(1))
            #expect(engine.0.isRunning, "the engine stopped: \(String(describing: try? String(contentsOf: engine.2, encoding: .utf8).suffix(2000)))")
            if !engine.0.isRunning { return }
        }
        for id in ids {
            let fire = try cli.run("fire", "--target", id, "--symbol", "EURUSD", "--direction", "BUY", "--lot", "0.1", "--id", "F-\(id)")
            #expect(fire.status == 0, "\(fire.stderr)")
        }
        for (index, id) in ids.enumerated() {
            #expect(await eventually(within: .seconds(10)) { fires(second[index].1).contains("F-\(id)") }, "\(id)'s new connection got no fire")
            #expect(!fires(first[index].1).contains("F-\(id)"))
        }
        // Connections taken over are not counted as peers: no stray EA shows where there is none.
        #expect(await eventually {
            let services = (try? cli.run("flows", "--json").json["services"] as? [[String: Any]]) ?? []
            let router = services.first { $0["name"] as? String == "command-router" }
            return router?["peers"] as? Int == Self.pairs && router?["identified_peers"] as? Int == Self.pairs
        }, "\(String(describing: try? cli.run("flows", "--json").stdout))")
        kill(engine.0.processIdentifier, SIGTERM)
        #expect(try cli.finish(engine).status == 0)
    }
}
