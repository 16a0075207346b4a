import Foundation
import RunbookTestSupport
import Testing

@Suite struct CheckCommandTests {
    @Test func exitCodesAreTheOnesMonitoringPluginsUse() throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        // Below the kernel's ephemeral range, where no outgoing connection can hold it.
        let port = Int.random(in: 11_000..<11_500)
        try FileManager.default.createDirectory(atPath: cli.path("Checks"), withIntermediateDirectories: true)
        try cli.write("Checks/port.yaml", "name: port\nprobe: {port: \(port)}\n")
        try cli.write("Checks/old-file.yaml", "name: old-file\nprobe: {file_age: stamp}\nwarning: \"> 1h\"\ncritical: \"> 1d\"\n")
        try cli.write("stamp", "")
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(-7200)], ofItemAtPath: cli.path("stamp"))

        let critical = try cli.run("check", "port")
        #expect(critical.status == 2)
        #expect(critical.stdout == "port CRITICAL: not bound: \(port) [port \(port)] (critical > 0) | value=1\n")
        let warning = try cli.run("check", "old-file")
        #expect(warning.status == 1 && warning.stdout.hasPrefix("old-file WARNING: 2h00m old"))
        // A Python listener; on a loaded machine its start can take seconds.
        let squatter = try PortSquatter(port: port)
        var bound = false
        for _ in 0..<3_000 where !bound {
            bound = isListening(port)
            if !bound { usleep(20_000) }
        }
        try #require(bound, "the listener on port \(port) did not start within 60 s")
        let ok = try cli.run("check", "port")
        #expect(ok.status == 0 && ok.stdout.hasPrefix("port OK"))
        // Every check: a table, and the worst status decides.
        let all = try cli.run("check")
        #expect(all.status == 1)
        #expect(all.stdout.contains("old-file  warning") && all.stdout.contains("port      healthy"))
        let json = try cli.run("check", "--json")
        let results = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
        #expect(results.map { $0["status"] as? String } == ["warning", "healthy"])
        withExtendedLifetime(squatter) {}
        let unknown = try cli.run("check", "prot")
        #expect(unknown.status == 3 && unknown.stderr.contains("did you mean 'port'?"))
    }
}

@Suite(.serialized) struct RestartFromTheCommandLineTests {
    @Test func aRunbookRunByHandRestartsAServiceOfTheRunningEngine() async throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        try FileManager.default.createDirectory(atPath: cli.path("Runbooks"), withIntermediateDirectories: true)
        try cli.write("Runbooks/bounce.yaml", "name: bounce\nsteps:\n  - id: router\n    restart: command-router\n")
        let ports = EnginePorts()
        try cli.write("runbook.yaml", ports.config(queue: cli.path("queue.ipc")))
        // A PUB answers a SUB, not a DEALER.
        let publisher = "tcp://127.0.0.1:\(ports.signals)"
        try cli.write("Runbooks/listen.yaml", "name: listen\nsteps:\n  - id: sub\n    probe: {connect: \"\(publisher)\", as: sub, timeout: 5s}\n")
        try cli.write("Runbooks/wrong.yaml", "name: wrong\nsteps:\n  - id: dealer\n    probe: {connect: \"\(publisher)\", timeout: 1s}\n")
        try FileManager.default.createDirectory(atPath: cli.path("Checks"), withIntermediateDirectories: true)
        try cli.write("Checks/restarts.yaml", "name: restarts\nprobe: {restarts: command-router}\nwarning: \"> 0\"\n")
        let refused = try cli.run("run", "bounce")
        #expect(refused.status == 1 && refused.stdout.contains("the engine is not running"), "\(refused.stdout)")

        let engine = try cli.start(["up", "--simulate", "--log-format", "text"])
        #expect(await eventually { FileManager.default.fileExists(atPath: cli.path("var/engine-state.json")) })
        func router() -> [String: Any]? {
            let services = (try? cli.run("flows", "--json").json["services"] as? [[String: Any]]) ?? []
            return services.first { $0["name"] as? String == "command-router" }
        }
        #expect(await eventually { router()?["peers"] as? Int == 2 })
        #expect(await eventually { (try? cli.run("run", "listen").status) == 0 })
        #expect(try cli.run("run", "wrong").status == 1)
        let run = try cli.run("run", "bounce")
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        // The state file is written each second.
        #expect(await eventually { router()?["restarts"] as? Int == 1 && router()?["state"] as? String == "running" })
        // The simulated EAs come back to the restarted router, and their heartbeats with them.
        #expect(await eventually { router()?["peers"] as? Int == 2 && router()?["identified_peers"] as? Int == 2 }, "\(router() ?? [:])")
        let restarts = try cli.run("check", "restarts")
        #expect(restarts.status == 1 && restarts.stdout.hasPrefix("restarts WARNING: command-router: 1 restart(s)"), "\(restarts.stdout)")
        // A second engine on other ports but the same data folder would take the control socket.
        try cli.write("second.yaml", EnginePorts().config(queue: cli.path("queue2.ipc")))
        let second = try cli.run("up", "--config", cli.path("second.yaml"), "--log-format", "text")
        #expect(second.status == 1 && second.stderr.contains("another engine answers on ipc://"), "\(second.stderr)")
        #expect(try cli.run("run", "bounce").status == 0)

        kill(engine.0.processIdentifier, SIGTERM)
        #expect(try cli.finish(engine).status == 0)
    }
}
