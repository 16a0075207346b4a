import Foundation
import RunbookZMQ
import Synchronization

/// Latency of `/health` and `/metrics` of a running `runbook up` under load from wrk on
/// loopback, while the telemetry bridge carries 10,000 ticks a second; `/health/live` (a
/// constant answer, no engine state read) on the same server is the baseline.
struct HTTPBench {
    let runbook: String
    var seconds = 10
    var tickRate = 10_000

    func run() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/wrk") else {
            print("http endpoints: skipped, no /usr/bin/wrk (Debian's wrk; Scripts/bootstrap installs it)")
            return
        }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("http-bench-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let base = Int.random(in: 41_000..<59_000) / 10 * 10
        let engine = try FlowBench.startEngine(runbook, in: folder, base: base, httpPort: base + 5)
        defer { kill(engine.processIdentifier, SIGTERM); engine.waitUntilExit() }

        // Ticks at a steady rate for as long as the measurements take, from a thread of its own.
        let context = try ZMQContext()
        let stop = Atomic(false)
        let sent = Atomic(0)
        let endpoint = "tcp://127.0.0.1:\(base)"
        let rate = tickRate
        let sender = Thread {
            guard let push = try? ZMQSocket(context, .push) else { return }
            try? push.setHighWaterMarks(send: 100_000, receive: 1000)
            try? push.connect(endpoint)
            let frame = Array(FlowBench.tick(sent: 1_763_700_000_123).utf8)
            let start = ContinuousClock.now
            var count = 0
            while !stop.load(ordering: .relaxed) {
                // Catch up to where the rate says we should be, then sleep a millisecond.
                let due = Int(Double(rate) * start.duration(to: .now).seconds)
                while count < due {
                    _ = try? push.send(frame)
                    count += 1
                }
                sent.store(count, ordering: .relaxed)
                usleep(1000)
            }
            push.close()
        }
        sender.start()
        usleep(2_000_000)

        let url = "http://127.0.0.1:\(base + 5)"
        let before = sent.load(ordering: .relaxed)
        let started = ContinuousClock.now
        var results: [(String, WrkResult)] = []
        for path in ["/health/live", "/health", "/metrics"] {
            results.append((path, try Self.wrk(url + path, seconds: seconds)))
        }
        let carried = Double(sent.load(ordering: .relaxed) - before) / started.duration(to: .now).seconds
        stop.store(true, ordering: .relaxed)
        while !sender.isFinished { usleep(10_000) }

        print("http endpoints under wrk (1 thread, 8 connections, \(seconds) s each) while the bridge carries \(String(format: "%.0f", carried)) ticks/s")
        for (path, result) in results {
            let label = path == "/health/live" ? "baseline, /health/live" : path
            print(String(format: "  %-24@ p50 %7.2f ms   p99 %7.2f ms   %8.0f requests/s", label as NSString, result.p50, result.p99, result.rate))
        }
    }

    struct WrkResult {
        var p50: Double
        var p99: Double
        var rate: Double
    }

    /// Runs wrk with its latency distribution and reads p50, p99 (in ms) and requests per second.
    static func wrk(_ url: String, seconds: Int) throws -> WrkResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/wrk")
        process.arguments = ["-t1", "-c8", "-d\(seconds)s", "--latency", url]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        func field(_ prefix: String) -> String? {
            text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.first { $0.hasPrefix(prefix) }?
                .split(separator: " ", omittingEmptySubsequences: true).dropFirst(prefix.split(separator: " ").count).first.map(String.init)
        }
        return WrkResult(p50: milliseconds(field("50%")), p99: milliseconds(field("99%")), rate: Double(field("Requests/sec:") ?? "") ?? 0)
    }

    /// wrk's "812.00us", "1.20ms" or "2.01s" in milliseconds.
    static func milliseconds(_ text: String?) -> Double {
        guard let text else { return .nan }
        for (unit, scale) in [("us", 0.001), ("ms", 1.0), ("s", 1000.0)] where text.hasSuffix(unit) {
            return (Double(text.dropLast(unit.count)) ?? .nan) * scale
        }
        return .nan
    }
}
