import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import RunbookTestSupport
import Testing

/// What a newcomer sees on a fresh `runbook up --simulate` with the shipped checks: nothing
/// critical that the demo itself explains, and `runbook check` from a shell agreeing with the
/// engine.
@Suite struct DemoTests {
    @Test func aFreshDemoWritesTrackingFilesAndTheShellAgreesWithTheEngineOnItsYoungRecords() async throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        let ports = EnginePorts()
        try cli.write("runbook.yaml", ports.config(queue: cli.path("queue.ipc")))
        try cli.copyShipped("Checks", "Runbooks")
        let engine = try cli.start(["up", "--simulate", "--log-format", "text"])
        defer { if engine.0.isRunning { kill(engine.0.processIdentifier, SIGKILL) } }
        #expect(await eventually { FileManager.default.fileExists(atPath: cli.path("var/tracking/ea-01.jsonl")) }, "the simulated EA writes its tracking file")
        // Under a full suite's load on two cores the engine and its three simulators take a while to start.
        let ready = await eventually(within: .seconds(90)) {
            guard let url = URL(string: "http://127.0.0.1:\(ports.http)/health/ready"), let (_, response) = try? await URLSession.shared.data(from: url) else { return false }
            return (response as? HTTPURLResponse)?.statusCode == 200
        }
        #expect(ready, "the engine answers: \((try? String(contentsOf: engine.2, encoding: .utf8))?.suffix(3000) ?? "")")
        func shell(_ check: String) -> (status: String, text: String) {
            let result = try? cli.run("check", check, "--json")
            let first = (try? JSONSerialization.jsonObject(with: Data((result?.stdout ?? "").utf8)) as? [[String: Any]])?.first
            return (first?["status"] as? String ?? "?", first?["text"] as? String ?? "")
        }
        func engineStatus(_ check: String) async -> String? {
            guard let url = URL(string: "http://127.0.0.1:\(ports.http)/health/detailed"),
                  let (data, _) = try? await URLSession.shared.data(from: url),
                  let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
            return (object["checks"] as? [[String: Any]])?.first { $0["name"] as? String == check }?["status"] as? String
        }
        // Open market: healthy and too young to judge; closed: idle. Never critical on a demo.
        let tracking = shell("tracking-files")
        #expect(["healthy", "idle"].contains(tracking.status), "\(tracking)")
        let signals = shell("signals-per-day")
        #expect(signals.status == "idle" || (signals.status == "unknown" && signals.text.contains("too little to judge")), "\(signals)")
        #expect(await eventually(within: .seconds(60)) { await engineStatus("signals-per-day") == signals.status }, "the engine says the same as the shell: \(signals.status)")
        #expect(await eventually(within: .seconds(60)) { await engineStatus("tracking-files") == tracking.status })
        kill(engine.0.processIdentifier, SIGTERM)
        #expect(try cli.finish(engine).status == 0)
    }
}
