import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import RunbookTestSupport
import Testing

/// The network between a test's engine and its PostgreSQL server: a proxy the test stops
/// (SIGSTOP) to cut it as a partition does, connections hanging and nothing answering.
final class CuttableProxy {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Peers/tcp_proxy.py").path
    let process = Process()
    let port: Int
    private let serverPort: Int

    init(to serverPort: Int) throws {
        self.serverPort = serverPort
        port = try PostgresServer.freePort()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [Self.script, "\(port)", "127.0.0.1", "\(serverPort)"]
        let ready = Pipe()
        process.standardOutput = ready
        process.standardError = FileHandle.nullDevice
        try process.run()
        _ = ready.fileHandleForReading.availableData
    }

    deinit {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    /// `url` (of the server) through the proxy.
    func through(_ url: String) -> String {
        url.replacingOccurrences(of: ":\(serverPort)/", with: ":\(port)/")
    }

    func cut() { kill(process.processIdentifier, SIGSTOP) }

    func restore() { kill(process.processIdentifier, SIGCONT) }
}

/// An engine whose PostgreSQL records cannot be reached for a while: the flows go on relaying,
/// their records wait in a spool, and are written once the records answer, even when the engine
/// was killed in between.
@Suite struct RecordsOutageTests {
    static let traffic = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Peers/flow_traffic.py").path

    /// pyzmq traffic through every order flow of the engine at `ports`, for `seconds`.
    func startTraffic(_ cli: CLIHarness, _ ports: EnginePorts, prefix: String, seconds: Int) throws -> (Process, URL) {
        let peer = Process()
        peer.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        peer.arguments = [
            Self.traffic, "tcp://127.0.0.1:\(ports.signals)", "ipc://\(cli.path("queue.ipc"))", "tcp://127.0.0.1:\(ports.router)",
            "tcp://127.0.0.1:\(ports.confirmations)", "ea-07", prefix, "\(seconds)",
        ]
        let output = cli.folder.appendingPathComponent("\(prefix).out")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        peer.standardOutput = try FileHandle(forWritingTo: output)
        try peer.run()
        return (peer, output)
    }

    func events(_ output: URL) -> [[String: Any]] {
        ((try? String(contentsOf: output, encoding: .utf8)) ?? "").split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
    }

    /// Counts in the records of what the traffic with `prefix` left: distinct signals and their
    /// rows, filled fires, trades and their distinct fires.
    func recorded(_ server: PostgresServer, _ database: String, prefix: String) async throws -> [Int] {
        let row = try await server.sql("""
            SELECT (SELECT count(DISTINCT signal_id) FROM signals WHERE signal_id LIKE '\(prefix)-%'),
                   (SELECT count(*) FROM signals WHERE signal_id LIKE '\(prefix)-%'),
                   (SELECT count(*) FROM fires WHERE fire_id LIKE '\(prefix)-%' AND status = 'FILLED'),
                   (SELECT count(*) FROM trades WHERE fire_id LIKE '\(prefix)-%'),
                   (SELECT count(DISTINCT fire_id) FROM trades WHERE fire_id LIKE '\(prefix)-%')
            """, database: database)
        return row.split(separator: "|").compactMap { Int($0) }
    }

    @Test func theFlowsKeepRelayingThroughAThirtySecondOutageAndTheirRecordsAreWrittenWhenItEnds() async throws {
        let server = try await PostgresServer.shared()
        let url = try await server.makeDatabase()
        let database = String(url.split(separator: "/").last!)
        let proxy = try CuttableProxy(to: server.port)
        let environment = ["RUNBOOK_RECORDS_URL": proxy.through(url)]
        let cli = try CLIHarness()
        let ports = EnginePorts()
        try cli.write("runbook.yaml", ports.config(queue: cli.path("queue.ipc")) + "\nrecords: {backend: postgresql}\nengine: {name: trade-01}\n")
        // A service whose port the test closes during the outage, and a schedule every 5 s.
        let port = try PostgresServer.freePort()
        let listener = try Self.listen(on: port)
        var listening = true
        defer { if listening { close(listener) } }
        try cli.write("Checks/gone.yaml", "name: gone\nprobe: {port: \(port)}\ninterval: 1s\nhysteresis: {fail: 1, recover: 1}\n")
        try cli.write("Runbooks/note.yaml", "name: note\nsteps:\n  - id: say\n    log: noted\n")
        try cli.write("Schedules/beat.yaml", "name: beat\nrunbook: note\nevery: 5s\ncatch_up: all\n")
        var engine = try cli.start(["up", "--log-format", "text"], environment: environment)
        defer {
            if engine.0.isRunning { kill(engine.0.processIdentifier, SIGKILL) }
            cli.remove()
        }
        #expect(await eventually(within: .seconds(30)) {
            (try? await server.sql("SELECT count(*) FROM engines WHERE name = 'trade-01'", database: database)) == "1"
        }, "the engine is up on its records")

        // 45 s of traffic; the records are cut off from the 8th second to the 38th.
        let (peer, output) = try startTraffic(cli, ports, prefix: "a", seconds: 45)
        defer { if peer.isRunning { kill(peer.processIdentifier, SIGKILL) } }
        #expect(await eventually { events(output).contains { $0["event"] as? String == "ready" } })
        try await Task.sleep(for: .seconds(8))
        let before = try await recorded(server, database, prefix: "a")
        #expect(before.count == 5 && before[2] > 5, "records are written before the outage: \(before)")
        proxy.cut()
        let cutAt = Date()
        try await Task.sleep(for: .seconds(5))
        close(listener)
        listening = false
        try await Task.sleep(for: .seconds(25))
        let during = try await recorded(server, database, prefix: "a")
        // Operators see the spool fill: `runbook flows`, /metrics and /health/detailed say so.
        let spooled = try cli.run("flows", "--json").json["flow_records"] as? [String: Any]
        #expect((spooled?["waiting"] as? Int ?? 0) > 0, "\(String(describing: spooled))")
        #expect(try cli.run("flows").stdout.contains("flow record(s) wait in the spool"))
        let (metrics, _) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(ports.http)/metrics")!)
        #expect(String(decoding: metrics, as: UTF8.self).split(separator: "\n").contains { $0.hasPrefix("runbook_flow_records_spooled ") && !$0.hasSuffix(" 0") && !$0.hasSuffix(" 0.0") })
        let (health, _) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(ports.http)/health/detailed")!)
        #expect(String(decoding: health, as: UTF8.self).contains("flow record(s) wait in the spool"))
        proxy.restore()
        let restoredAt = Date()
        peer.waitUntilExit()

        // Every fire reached the EA while the records were cut off, none waiting more than the
        // one write that found them unreachable (2 s) and a margin.
        let done = try #require(events(output).first { $0["event"] as? String == "done" })
        let fires = try #require(done["fires"] as? Int)
        #expect(fires >= 80)
        #expect(done["received"] as? Int == fires && done["distinct"] as? Int == fires, "\(done)")
        let latencies = events(output).compactMap { $0["latency_ms"] as? Int }
        #expect(latencies.max() ?? 0 < 3500, "a fire waited \(latencies.max() ?? 0) ms")
        print("records outage: \(fires) fires relayed through a 30 s outage, slowest \(latencies.max() ?? 0) ms from queue to EA")

        // Once the records answer, every signal, fill and close is in them, each once.
        let signals = try #require(done["signals"] as? Int)
        #expect(await eventually(within: .seconds(30)) { (try? await recorded(server, database, prefix: "a")) == [signals, signals, fires, fires, fires] })
        #expect(try await recorded(server, database, prefix: "a") == [signals, signals, fires, fires, fires])
        #expect(during[2] < fires - 40, "nothing reached the records during the cut: \(during) of \(fires)")
        #expect(await eventually { (try? Data(contentsOf: URL(fileURLWithPath: cli.path("var/flow-records.spool"))).count) ?? 0 == 0 }, "the spool is emptied")
        #expect(await eventually {
            let records = (try? cli.run("flows", "--json").json["flow_records"]) as? [String: Any]
            return records?["waiting"] as? Int == 0 && (records?["replayed"] as? Int ?? 0) > 0
        }, "and operators see it emptied")
        #expect(try await server.sql("SELECT heartbeats > 0 FROM ea_instances WHERE engine = 'trade-01' AND target_uuid = 'ea-07'", database: database) == "t")
        // The check that turned critical during the outage: its change is recorded late, at the
        // time it happened, and its incident is open.
        #expect(await eventually(within: .seconds(20)) {
            let at = (try? await server.sql("SELECT extract(epoch FROM at) FROM check_changes WHERE check_name = 'gone' AND to_status = 'critical'", database: database)).flatMap(Double.init)
            return at.map { $0 > cutAt.timeIntervalSince1970 && $0 < restoredAt.timeIntervalSince1970 } == true
        }, "the change made during the outage is in the records")
        #expect(await eventually(within: .seconds(20)) {
            (try? await server.sql("SELECT count(*) FROM incidents WHERE key LIKE 'check:gone%' AND status != 'resolved'", database: database)) == "1"
        }, "and its incident")
        // Every 5-second fire ran, those of the outage once the records answered (one after
        // another, and after the engine leads again: under a full suite's load in a fresh-clone
        // run that took more than a minute).
        var dues: [Double] = []
        #expect(await eventually(within: .seconds(150)) {
            dues = ((try? await server.sql("SELECT extract(epoch FROM due_at) FROM runs WHERE trigger_source = 'beat' ORDER BY due_at", database: database)) ?? "")
                .split(separator: "\n").compactMap { Double($0) }
            return dues.count >= 8 && dues == Array(stride(from: dues.first!, through: dues.last!, by: 5)) && dues.last! > restoredAt.timeIntervalSince1970
        }, "no fire missed: \(dues.map { $0 - restoredAt.timeIntervalSince1970 })")

        // Cut off again and killed while cut off: what the spool held is written by the engine
        // started again.
        proxy.cut()
        let (second, secondOutput) = try startTraffic(cli, ports, prefix: "b", seconds: 6)
        defer { if second.isRunning { kill(second.processIdentifier, SIGKILL) } }
        second.waitUntilExit()
        let secondDone = try #require(events(secondOutput).first { $0["event"] as? String == "done" })
        let secondFires = try #require(secondDone["fires"] as? Int)
        #expect(secondDone["received"] as? Int == secondFires)
        kill(engine.0.processIdentifier, SIGKILL)
        engine.0.waitUntilExit()
        let stderr = (try? String(contentsOf: engine.2, encoding: .utf8)) ?? ""
        #expect(stderr.contains("the records cannot be reached"), "\(stderr.suffix(3000))")
        #expect(stderr.contains("the records answer again: "), "the first outage's spool was written: \(stderr.suffix(3000))")
        #expect(try await recorded(server, database, prefix: "b")[2] == 0, "nothing of the second outage reached the records")
        proxy.restore()
        engine = try cli.start(["up", "--log-format", "text"], environment: environment)
        let secondSignals = try #require(secondDone["signals"] as? Int)
        #expect(await eventually(within: .seconds(40)) {
            (try? await recorded(server, database, prefix: "b")) == [secondSignals, secondSignals, secondFires, secondFires, secondFires]
        }, "the spool left by the killed engine is written by the next")
        kill(engine.0.processIdentifier, SIGTERM)
        let stopped = try cli.finish(engine)
        #expect(stopped.status == 0, "\(stopped.stderr.suffix(2000))")
        #expect(stopped.stderr.contains("flow records wait in"), "\(stopped.stderr.suffix(2000))")
    }

    /// A TCP socket listening on `port` on loopback, in this process.
    static func listen(on port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard fd >= 0, bound == 0, Glibc.listen(fd, 8) == 0 else { throw CocoaError(.fileWriteUnknown) }
        return fd
    }
}
