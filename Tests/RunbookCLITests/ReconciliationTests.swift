import Foundation
import RunbookTestSupport
import Synchronization
import Testing

/// The pyzmq EA of `Peers/positions_ea.py`, told what to do on its standard input; what it did
/// is read back from its output, one JSON line per event.
final class PositionsEA: @unchecked Sendable {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Peers/positions_ea.py").path
    let process = Process()
    private let input = Pipe()
    private let output = Pipe()
    private let lines = Mutex<[Data]>([])
    private let buffer = Mutex(Data())

    init(router: Int, confirmations: Int, target: String = "ea-01") throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [Self.script, "tcp://127.0.0.1:\(router)", "tcp://127.0.0.1:\(confirmations)", target]
        process.standardInput = input
        process.standardOutput = output
        output.fileHandleForReading.readabilityHandler = { [weak self] handle in
            guard let self else { return }
            let chunk = handle.availableData
            let complete: [Data] = self.buffer.withLock { buffer in
                buffer.append(chunk)
                var found: [Data] = []
                while let end = buffer.firstIndex(of: UInt8(ascii: "\n")) {
                    found.append(buffer[buffer.startIndex..<end])
                    buffer.removeSubrange(buffer.startIndex...end)
                }
                return found
            }
            self.lines.withLock { $0 += complete }
        }
        try process.run()
    }

    deinit {
        output.fileHandleForReading.readabilityHandler = nil
        // Processes started from a test thread inherit its blocked signals, SIGTERM among them.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    var events: [[String: Any]] { lines.withLock { $0 }.compactMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] } }

    /// Sends a command and waits until the EA says it is done.
    func tell(_ command: [String: Any]) async throws {
        let before = events.count
        var line = try JSONSerialization.data(withJSONObject: command)
        line.append(UInt8(ascii: "\n"))
        try input.fileHandleForWriting.write(contentsOf: line)
        let action = command["do"] as? String
        #expect(await eventually(within: .seconds(10)) { self.events.dropFirst(before).contains { $0["event"] as? String == "done" && $0["do"] as? String == action } }, "\(command)")
    }

    /// The ticket the EA filled `fire` with, once it has.
    func ticket(of fire: String) async -> Int? {
        _ = await eventually(within: .seconds(10)) { self.events.contains { $0["event"] as? String == "filled" && $0["fire_id"] as? String == fire } }
        return events.first { $0["event"] as? String == "filled" && $0["fire_id"] as? String == fire }?["ticket"] as? Int
    }
}

/// Reconciliation against a running engine and a pyzmq EA that reports its positions: each
/// finding appears for its own injected cause, names its tickets, and no other appears.
@Suite(.serialized) struct ReconciliationTests {
    /// The shipped check's limits, except those shortened so that the test need not wait.
    static func check(name: String, openAfter: String = "24h", unansweredAfter: String = "2m") -> String {
        """
        name: \(name)
        probe:
          reconciliation: {open_after: \(openAfter), unanswered_after: \(unansweredAfter), unknown_within: 1h, report_within: 5m}
        critical: "> 0"
        interval: 1h
        """
    }

    func reading(_ cli: CLIHarness, _ check: String) throws -> (status: Int32, text: String) {
        let result = try cli.run("check", check, "--json")
        let reading = (try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [[String: Any]])?.first ?? [:]
        return (result.status, (reading["text"] as? String) ?? "\(result.stdout)\(result.stderr)")
    }

    func fire(_ cli: CLIHarness, _ id: String) throws {
        let result = try cli.run("fire", "--target", "ea-01", "--symbol", "EURUSD", "--direction", "BUY", "--lot", "0.2", "--id", id)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
    }

    @Test func eachFindingAppearsForItsCauseAndNamesItsTickets() async throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        let ports = EnginePorts()
        try cli.write("runbook.yaml", ports.config(queue: cli.path("queue.ipc")))
        try cli.write("Checks/reconciliation.yaml", Self.check(name: "reconciliation", unansweredAfter: "1s"))
        try cli.write("Checks/reconciliation-open.yaml", Self.check(name: "reconciliation-open", openAfter: "2s"))
        let engine = try cli.start(["up", "--log-format", "text"])
        defer { if engine.0.isRunning { kill(engine.0.processIdentifier, SIGKILL) } }
        let ea = try PositionsEA(router: ports.router, confirmations: ports.confirmations)
        #expect(await eventually {
            let services = (try? cli.run("flows", "--json").json["services"] as? [[String: Any]]) ?? []
            return services.first { $0["name"] as? String == "command-router" }?["identified_peers"] as? Int == 1
        }, "the EA is on the router")

        // Three fills, one of them closed, the report matching: nothing to find.
        for id in ["F-1", "F-2", "F-3"] { try fire(cli, id) }
        let t1 = try #require(await ea.ticket(of: "F-1")), t2 = try #require(await ea.ticket(of: "F-2")), t3 = try #require(await ea.ticket(of: "F-3"))
        try await ea.tell(["do": "close", "ticket": t3])
        try await ea.tell(["do": "positions"])
        #expect(await eventually { (try? self.reading(cli, "reconciliation").text.contains("2 open fill(s); 1 EA positions report(s) compared")) == true })
        var result = try reading(cli, "reconciliation")
        #expect(result.status == 0, "nothing disagrees: \(result.text)")

        // A position no fire explains, a fill the EA no longer holds, a close for a fire never queued.
        try await ea.tell(["do": "forget", "ticket": t2])
        try await ea.tell(["do": "hold", "ticket": 9999, "symbol": "GBPUSD", "lots": 0.3])
        try await ea.tell(["do": "close_unknown", "fire_id": "ghost-1", "ticket": 7777])
        try await ea.tell(["do": "positions"])
        #expect(await eventually { (try? self.reading(cli, "reconciliation").text.contains("ghost-1")) == true })
        result = try reading(cli, "reconciliation")
        #expect(result.status == 2, "\(result.text)")
        #expect(result.text.contains("ea-01: 1 position(s) no fire explains: ticket 9999 (GBPUSD 0.3 lots)"), "\(result.text)")
        #expect(result.text.contains("ea-01: 1 fill(s) the EA no longer holds: ticket \(t2) (fire F-2)"), "\(result.text)")
        #expect(result.text.contains("1 answer(s) for fires never queued: close for ghost-1 (ticket 7777)"), "\(result.text)")
        #expect(!result.text.contains("ticket \(t1)") && !result.text.contains("sent with no confirmation") && !result.text.contains("with no close"), "no other finding: \(result.text)")

        // A fire the EA never answers.
        try await ea.tell(["do": "ignore_fires"])
        try fire(cli, "F-4")
        #expect(await eventually { ea.events.contains { $0["event"] as? String == "ignored" && $0["fire_id"] as? String == "F-4" } })
        try await Task.sleep(for: .seconds(1.5))
        result = try reading(cli, "reconciliation")
        #expect(result.text.contains("ea-01: 1 fire(s) sent with no confirmation: fire F-4"), "\(result.text)")

        // Fills held longer than open_after: F-1 and F-2 (F-3 was closed).
        result = try reading(cli, "reconciliation-open")
        #expect(result.text.contains("ea-01: 2 fill(s) with no close: ticket \(t1) (fire F-1), ticket \(t2) (fire F-2)"), "\(result.text)")
        #expect(!result.text.contains("ticket \(t3)"), "\(result.text)")

        // The EA's positions again as the records have them: only what was injected still shows.
        try await ea.tell(["do": "forget", "ticket": 9999])
        try await ea.tell(["do": "hold", "ticket": t2, "symbol": "EURUSD", "lots": 0.2])
        try await ea.tell(["do": "positions"])
        #expect(await eventually { (try? self.reading(cli, "reconciliation").text.contains("9999")) == false })
        result = try reading(cli, "reconciliation")
        #expect(
            result.status == 2 && result.text == "1 answer(s) for fires never queued: close for ghost-1 (ticket 7777); ea-01: 1 fire(s) sent with no confirmation: fire F-4",
            "only the unknown close (within the hour) and the unanswered fire are left: \(result.text)"
        )
        kill(engine.0.processIdentifier, SIGTERM)
        #expect(try cli.finish(engine).status == 0)
    }
}
