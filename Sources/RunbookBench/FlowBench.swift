import Foundation
import RunbookZMQ

/// Ticks through the telemetry bridge of a running `runbook up`, against libzmq's own proxy
/// between the same socket types, both as separate processes on loopback.
struct FlowBench {
    let runbook: String
    let proxy: String

    static let tickSize = tick(sent: 1_763_700_000_123).utf8.count

    static func tick(sent: Int64) -> String {
        "{\"type\":\"tick\",\"symbol\":\"EURUSD\",\"bid\":1.08512,\"ask\":1.08527,\"time_msc\":\(sent),\"volume\":0}"
    }

    func run() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("flow-bench-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let base = Int.random(in: 41_000..<59_000) / 10 * 10
        let engine = try Self.startEngine(runbook, in: folder, base: base, httpPort: base + 7)
        defer { kill(engine.processIdentifier, SIGTERM); engine.waitUntilExit() }
        // The same engine with `ticks: {journal: false}`: what the crash journal costs end to end.
        let unjournaled = try Self.startEngine(runbook, in: folder.appendingPathComponent("no-journal"), base: base + 10, httpPort: base + 17, journal: false)
        defer { kill(unjournaled.processIdentifier, SIGTERM); unjournaled.waitUntilExit() }
        let baseline = try Self.start(proxy, ["tcp://127.0.0.1:\(base + 5)", "tcp://127.0.0.1:\(base + 6)"], in: folder)
        defer { kill(baseline.processIdentifier, SIGKILL); baseline.waitUntilExit() }
        let idle = Self.rss(engine.processIdentifier)

        let context = try ZMQContext()
        let bridgeIn = "tcp://127.0.0.1:\(base)", bridgeOut = "tcp://127.0.0.1:\(base + 1)"
        let proxyIn = "tcp://127.0.0.1:\(base + 5)", proxyOut = "tcp://127.0.0.1:\(base + 6)"
        // Rounds alternate between the bridge and the baseline, so that whatever else the machine
        // does falls on both alike.
        let count = 300_000
        var bridgeRates: [Double] = []
        var unjournaledRates: [Double] = []
        var proxyRates: [Double] = []
        for _ in 0..<5 {
            bridgeRates.append(try Self.throughput(context, in: bridgeIn, out: bridgeOut, count: count))
            unjournaledRates.append(try Self.throughput(context, in: "tcp://127.0.0.1:\(base + 10)", out: "tcp://127.0.0.1:\(base + 11)", count: count))
            proxyRates.append(try Self.throughput(context, in: proxyIn, out: proxyOut, count: count))
        }
        let loaded = Self.rss(engine.processIdentifier)
        let loadedUnjournaled = Self.rss(unjournaled.processIdentifier)
        let bridge = bridgeRates.sorted()[2]
        let raw = proxyRates.sorted()[2]
        print("telemetry bridge throughput, \(count) ticks of \(Self.tickSize) bytes, PUSH -> bridge -> SUB (median of 5, alternating)")
        print(String(format: "  runbook up bridge       %10.0f ticks/s", bridge))
        print(String(format: "  the same, no journal    %10.0f ticks/s   (ticks: {journal: false})", unjournaledRates.sorted()[2]))
        print(String(format: "  baseline, zmq_proxy     %10.0f ticks/s", raw))
        print(String(format: "  ratio                   %10.2f x     goal >= 0.9", bridge / raw))

        var bridgeLatency: [Double] = []
        var proxyLatency: [Double] = []
        var floorLatency: [Double] = []
        let direct = "tcp://127.0.0.1:\(base + 8)"
        for _ in 0..<5 {
            bridgeLatency += try Self.latency(context, in: bridgeIn, out: bridgeOut, rate: 10_000, seconds: 2)
            proxyLatency += try Self.latency(context, in: proxyIn, out: proxyOut, rate: 10_000, seconds: 2)
            floorLatency += try Self.latency(context, in: direct, out: nil, rate: 10_000, seconds: 2)
        }
        print("hop latency at 10,000 ticks/s, 5 alternating rounds of 2 s each (PUSH send to SUB receive, \(bridgeLatency.count) ticks)")
        print("  runbook up bridge       \(Self.percentiles(bridgeLatency))   goal p99 <= 200")
        print("  baseline, zmq_proxy     \(Self.percentiles(proxyLatency))")
        print("  floor, PUSH -> PULL     \(Self.percentiles(floorLatency))   (no hop between: the machine's own)")
        print("resident memory of runbook up")
        print("  idle                    \(idle / 1024) MiB")
        print("  after the load above    \(loaded / 1024) MiB   (\(loadedUnjournaled / 1024) MiB without the journal)")
    }

    /// Sends `count` ticks as fast as they go and receives them; ticks per second end to end.
    static func throughput(_ context: ZMQContext, in input: String, out output: String, count: Int) throws -> Double {
        let sub = try ZMQSocket(context, .sub)
        try sub.setHighWaterMarks(send: 1000, receive: 0)
        try sub.subscribe()
        try sub.connect(output)
        let frame = Array(tick(sent: 1_763_700_000_123).utf8)
        let connected = DispatchSemaphore(value: 0)
        let go = DispatchSemaphore(value: 0)
        let sender = Thread {
            // The socket is made and used on the sending thread only.
            guard let push = try? ZMQSocket(context, .push) else { return }
            try? push.setHighWaterMarks(send: 100_000, receive: 1000)
            try? push.connect(input)
            connected.signal()
            go.wait()
            for _ in 0..<count { _ = try? push.send(frame) }
            usleep(2_000_000)
            push.close()
        }
        sender.start()
        connected.wait()
        usleep(300_000)
        let start = ContinuousClock.now
        go.signal()
        try sub.setReceiveTimeout(milliseconds: 1000)
        var received = 0
        var last = start
        while received < count, try sub.receive() != nil {
            received += 1
            last = .now
        }
        let seconds = start.duration(to: last)
        sub.close()
        return Double(received) / (Double(seconds.components.seconds) + Double(seconds.components.attoseconds) / 1e18)
    }

    /// Sends ticks at `rate` a second, each carrying its send time, to `input`; the time each took
    /// to reach a SUB on `output` (or, without one, a PULL bound on `input`), in microseconds.
    static func latency(_ context: ZMQContext, in input: String, out output: String?, rate: Int, seconds: Int) throws -> [Double] {
        let receiver: ZMQSocket
        if let output {
            receiver = try ZMQSocket(context, .sub)
            try receiver.setHighWaterMarks(send: 1000, receive: 0)
            try receiver.subscribe()
            try receiver.connect(output)
        } else {
            receiver = try ZMQSocket(context, .pull)
            try receiver.bind(input)
        }
        let origin = ContinuousClock.now
        let now: @Sendable () -> Int64 = {
            let elapsed = origin.duration(to: .now)
            return elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000
        }
        let total = rate * seconds
        let connected = DispatchSemaphore(value: 0)
        let sender = Thread {
            guard let push = try? ZMQSocket(context, .push) else { return }
            try? push.connect(input)
            usleep(300_000)
            connected.signal()
            defer { usleep(500_000); push.close() }
            let start = now()
            var sent = 0
            while sent < total {
                let due = Int(Double(now() - start) / 1e9 * Double(rate))
                while sent < min(due, total) {
                    _ = try? push.send(tick(sent: now()))
                    sent += 1
                }
                // 10 ticks a millisecond at 10k/s: sleeping between bursts leaves the cores to the flows.
                usleep(900)
            }
        }
        sender.start()
        connected.wait()
        try receiver.setReceiveTimeout(milliseconds: 1000)
        let key = Array("\"time_msc\":".utf8)
        var samples: [Double] = []
        samples.reserveCapacity(total)
        while samples.count < total, let parts = try receiver.receive() {
            let arrived = now()
            let frame = parts[0]
            guard let at = frame.indices.first(where: { frame[$0...].starts(with: key) }) else { continue }
            var sent: Int64 = 0
            for byte in frame[(at + key.count)...] {
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { break }
                sent = sent * 10 + Int64(byte - UInt8(ascii: "0"))
            }
            samples.append(Double(arrived - sent) / 1000)
        }
        receiver.close()
        return samples
    }

    /// "p50 ... p99 ... p99.9 ..." of latency samples in microseconds.
    static func percentiles(_ samples: [Double]) -> String {
        let sorted = samples.sorted()
        guard !sorted.isEmpty else { return "no samples" }
        func at(_ fraction: Double) -> Double { sorted[min(sorted.count - 1, Int(Double(sorted.count) * fraction))] }
        return String(format: "p50 %6.0f us   p99 %6.0f us   p99.9 %6.0f us", at(0.5), at(0.99), at(0.999))
    }

    /// `runbook up` in `folder`, its flows on loopback ports from `base` (five of them) and its
    /// HTTP server on `httpPort`, once it has written its first state.
    static func startEngine(_ runbook: String, in folder: URL, base: Int, httpPort: Int, journal: Bool = true) throws -> Process {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try """
            flows:
              telemetry_in: tcp://127.0.0.1:\(base)
              telemetry_out: tcp://127.0.0.1:\(base + 1)
              signals: tcp://127.0.0.1:\(base + 2)
              router: tcp://127.0.0.1:\(base + 3)
              confirmations: tcp://127.0.0.1:\(base + 4)
              command_queue: ipc://\(folder.path)/queue.ipc
            http: {listen: 127.0.0.1:\(httpPort)}
            ticks: {journal: \(journal)}
            """.write(to: folder.appendingPathComponent("runbook.yaml"), atomically: true, encoding: .utf8)
        let engine = try start(runbook, ["up", "--log-format", "text", "--log-level", "error"], in: folder)
        while !FileManager.default.fileExists(atPath: folder.appendingPathComponent("var/engine-state.json").path) { usleep(50_000) }
        return engine
    }

    static func start(_ path: String, _ arguments: [String], in folder: URL) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.currentDirectoryURL = folder
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    /// Resident set size in KiB.
    static func rss(_ pid: Int32) -> Int {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
    }
}
