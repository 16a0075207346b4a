import Foundation
import GRDB
import RunbookTestSupport
import Testing

/// The engine as a crash would meet it: kill -9 at random moments under ticks, during a store
/// outage, and of `runbook run` in the middle of a step. Each round asserts what an operator
/// counts on afterwards: every tick the engine relayed is stored, exactly once, nothing it did
/// not receive is stored, no run is left `running`, and both databases pass `integrity_check`.
///
/// `RUNBOOK_CHAOS_KILLS` sets how many kills each test makes (3 by default; Docs/security.md
/// gives the figures of a long run).
@Suite(.serialized) struct ChaosTests {
    static let sender = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Peers/tick_chaos.py").path
    static let kills = Int(ProcessInfo.processInfo.environment["RUNBOOK_CHAOS_KILLS"] ?? "") ?? 3

    struct Outcome {
        var sent = 0
        var relayed: Set<Int64> = []
        var stored: [Int64] = []
    }

    func startEngine(_ cli: CLIHarness) async throws -> (Process, URL, URL) {
        let state = cli.path("var/engine-state.json")
        try? FileManager.default.removeItem(atPath: state)
        let engine = try cli.start(["up", "--log-format", "text"])
        #expect(await eventually { FileManager.default.fileExists(atPath: state) }, "the engine did not start: \(String(describing: try? String(contentsOf: engine.2, encoding: .utf8)))")
        return engine
    }

    /// Sends ticks at 500/s while `between` kills and restarts the engine, then stops it cleanly
    /// and reads what it stored.
    func underTicks(_ cli: CLIHarness, ports: EnginePorts, between: (inout (Process, URL, URL)) async throws -> Void) async throws -> Outcome {
        try cli.write("runbook.yaml", ports.config(queue: cli.path("queue.ipc")))
        var engine = try await startEngine(cli)
        let stop = cli.path("stop-sending")
        let sender = Process()
        sender.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        sender.arguments = [Self.sender, "tcp://127.0.0.1:\(ports.ticks)", "tcp://127.0.0.1:\(ports.telemetryOut)", "500", stop]
        let output = Pipe()
        sender.standardOutput = output
        try sender.run()
        try await between(&engine)
        try await Task.sleep(for: .seconds(1))
        _ = FileManager.default.createFile(atPath: stop, contents: nil)
        let report = output.fileHandleForReading.readDataToEndOfFile()
        sender.waitUntilExit()
        // Let the last ticks through, then stop cleanly: the store takes what is left.
        try await Task.sleep(for: .seconds(1))
        kill(engine.0.processIdentifier, SIGTERM)
        _ = try cli.finish(engine)

        let json = try #require(try JSONSerialization.jsonObject(with: report) as? [String: Any])
        var outcome = Outcome()
        outcome.sent = json["sent"] as? Int ?? 0
        outcome.relayed = Set((json["relayed"] as? [Int] ?? []).map(Int64.init))
        let ticks = try DatabaseQueue(path: cli.path("var/ticks.db"))
        outcome.stored = try await ticks.read { db in try Int64.fetchAll(db, sql: "SELECT time_msc - 1763700000000 FROM history") }
        #expect(try await ticks.read { db in try String.fetchOne(db, sql: "PRAGMA integrity_check") } == "ok")
        #expect(try await DatabaseQueue(path: cli.path("var/runbook.db")).read { db in try String.fetchOne(db, sql: "PRAGMA integrity_check") } == "ok")
        return outcome
    }

    func expectNoTickLost(_ outcome: Outcome, kills: Int) {
        let stored = Set(outcome.stored)
        #expect(outcome.stored.count == stored.count, "a tick was stored twice")
        let lost = outcome.relayed.subtracting(stored)
        #expect(lost.count == 0, "relayed and not stored: \(lost.sorted().prefix(20))")
        let invented = stored.filter { $0 < 0 || $0 >= outcome.sent }.count
        #expect(invented == 0, "stored ticks that were never sent")
        #expect(outcome.relayed.count > 500 * kills / 2, "too few ticks went through to prove anything: \(outcome.relayed.count)")
        print("chaos: \(kills) kill(s), \(outcome.sent) sent, \(outcome.relayed.count) relayed, \(stored.count) stored, \(outcome.relayed.subtracting(stored).count) relayed and lost")
    }

    @Test func killingTheEngineAtRandomMomentsLosesNoRelayedTick() async throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        let outcome = try await underTicks(cli, ports: EnginePorts()) { engine in
            for _ in 0..<Self.kills {
                try await Task.sleep(for: .milliseconds(Int.random(in: 700...2500)))
                kill(engine.0.processIdentifier, SIGKILL)
                engine.0.waitUntilExit()
                engine = try await startEngine(cli)
            }
        }
        expectNoTickLost(outcome, kills: Self.kills)
    }

    /// The store is locked by another process (its retries, then the spool), and the engine is
    /// killed while ticks wait for it.
    @Test func killingTheEngineDuringAStoreOutageLosesNoRelayedTick() async throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        let outcome = try await underTicks(cli, ports: EnginePorts()) { engine in
            for round in 0..<Self.kills {
                try await Task.sleep(for: .milliseconds(500))
                // The engine may be writing a batch: wait for the lock rather than fail at once.
                var configuration = Configuration()
                configuration.busyMode = .timeout(30)
                let locker = try DatabaseQueue(path: cli.path("var/ticks.db"), configuration: configuration)
                let locked = DispatchSemaphore(value: 0)
                let release = DispatchSemaphore(value: 0)
                Thread {
                    do {
                        try locker.writeWithoutTransaction { db in
                            try db.execute(sql: "BEGIN EXCLUSIVE")
                            locked.signal()
                            release.wait()
                            try db.execute(sql: "COMMIT")
                        }
                    } catch {
                        // Not locked: the wait below fails the test instead of hanging it.
                    }
                }.start()
                #expect(locked.wait(timeout: .now() + 60) == .success, "the tick store could not be locked")
                // Early in the retries on odd rounds, after the spool took some on even ones.
                try await Task.sleep(for: .milliseconds(round % 2 == 0 ? Int.random(in: 500...2000) : Int.random(in: 8000...9000)))
                kill(engine.0.processIdentifier, SIGKILL)
                engine.0.waitUntilExit()
                engine = try await startEngine(cli)
                try await Task.sleep(for: .milliseconds(500))
                release.signal()
            }
        }
        expectNoTickLost(outcome, kills: Self.kills)
    }

    /// Every descriptor of the engine is close-on-exec (the crash reporter the runtime starts
    /// would otherwise hold its ports), and an engine that died is followed by one that starts.
    @Test func aCrashedEngineLeavesItsPortsToTheNextStart() async throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        let ports = EnginePorts()
        try cli.write("runbook.yaml", ports.config(queue: cli.path("queue.ipc")))
        let engine = try await startEngine(cli)
        let pid = engine.0.processIdentifier
        // The HTTP server binds after the flows; a connection to it makes an accepted socket too.
        // (Under a full suite's load on two cores the start can take longer than 20 s.)
        #expect(await eventually(within: .seconds(60)) { isListening(ports.http) })
        let connection = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(connection) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(ports.http).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(connection, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        #expect(connected == 0)
        try await Task.sleep(for: .milliseconds(1500))
        func inheritable() -> [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []).compactMap { name -> String? in
                guard let fd = Int(name), fd > 2,
                      let info = try? String(contentsOfFile: "/proc/\(pid)/fdinfo/\(fd)", encoding: .utf8),
                      let flags = info.split(separator: "\n").first(where: { $0.hasPrefix("flags:") }).flatMap({ Int($0.split(separator: "\t").last ?? "", radix: 8) })
                else { return nil }
                return flags & 0o2000000 == 0 ? ((try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(fd)")) ?? name) : nil
            }
        }
        #expect(inheritable().isEmpty, "descriptors a child would inherit: \(inheritable())")
        // The engine dies outright; the next one must find its ports free.
        kill(pid, SIGKILL)
        engine.0.waitUntilExit()
        let next = try await startEngine(cli)
        #expect(processIsRunning(next.0.processIdentifier))
        kill(next.0.processIdentifier, SIGTERM)
        #expect(try cli.finish(next).status == 0)
    }

    @Test func killingARunInTheMiddleOfAStepLeavesNoRunRunning() async throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        try cli.write("Runbooks/slow.yaml", """
            name: slow
            steps:
              - id: first
                shell: {command: "true"}
              - id: wait
                shell: {command: "sleep 30"}
            """)
        for _ in 0..<Self.kills {
            let run = try cli.start(["run", "slow"])
            #expect(await eventually {
                let records = try? DatabaseQueue(path: cli.path("var/runbook.db"))
                return (try? records?.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM step_attempts WHERE step_id = 'wait' AND status = 'running'") }) == 1
            })
            try await Task.sleep(for: .milliseconds(Int.random(in: 0...500)))
            kill(run.0.processIdentifier, SIGKILL)
            run.0.waitUntilExit()
            // The next command to open the records marks the run that was killed.
            let runs = try cli.run("history", "--json").json["runs"] as? [[String: Any]] ?? []
            #expect(!runs.isEmpty)
            #expect(runs.allSatisfy { $0["status"] as? String != "running" }, "\(runs)")
        }
        let records = try DatabaseQueue(path: cli.path("var/runbook.db"))
        #expect(try await records.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM runs WHERE status = 'interrupted'") } == Self.kills)
        #expect(try await records.read { db in try String.fetchOne(db, sql: "PRAGMA integrity_check") } == "ok")
    }
}
