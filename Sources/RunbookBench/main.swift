// Prints the engine's overhead figures next to baselines measured in the same run.
// Build in release mode first: swift build -c release && .build/release/runbook-bench
import Foundation
import RunbookApp
import RunbookExecutor
import RunbookModel
import RunbookSQLite
import Subprocess

let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("runbook-bench-\(getpid())")
try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
defer { try? FileManager.default.removeItem(at: scratch) }

/// A recorder that writes nothing: the executor alone, as the baseline for records' cost.
struct NoRecords: RunRecorder {
    func startRun(_ start: RunStart) throws -> Int64 { 1 }
    func startAttempt(_ attempt: AttemptStart, completing previous: FinishedAttempt?) throws -> Int64 { 1 }
    func finishAttempt(_ finished: FinishedAttempt) throws {}
    func finishRun(_ id: Int64, _ outcome: RunOutcome, completing previous: FinishedAttempt?) throws {}
}

func runbook(name: String, steps: Int, step: String) throws -> Runbook {
    let body = (0..<steps).map { "  - id: s\($0)\n    \(step)" }.joined(separator: "\n")
    return try RunbookLoader(catalog: Catalog.steps).load(text: "name: \(name)\nsteps:\n\(body)\n", file: "\(name).yaml")
}

func seconds(_ body: () async throws -> Void) async rethrows -> Double {
    let start = ContinuousClock.now
    try await body()
    return start.duration(to: .now).seconds
}

/// CPU time (user and system) this process has used, in seconds.
func cpuSeconds() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) + Double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted[sorted.count / 2]
}

func executor(_ recorder: any RunRecorder) -> Executor {
    Executor(registry: Catalog.steps, recorder: recorder, workingDirectory: scratch.path, lookup: { _ in throw ValidationFailure([]) })
}

/// Runs a program to its end, its output discarded.
func spawn(_ path: String, _ arguments: [String], in folder: URL) throws {
    try FlowBench.start(path, arguments, in: folder).waitUntilExit()
}

let rounds = 5
let arguments = CommandLine.arguments
func option(_ name: String) -> String? {
    arguments.firstIndex(of: name).flatMap { arguments.indices.contains($0 + 1) ? arguments[$0 + 1] : nil }
}
let proxyPath = option("--proxy")

// The telemetry bridge against libzmq's proxy alone: --flows-only (with --proxy).
if arguments.contains("--flows-only"), let proxyPath {
    try FlowBench(runbook: URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("runbook").path, proxy: proxyPath).run()
    try JournalBench(folder: scratch).run()
    try? FileManager.default.removeItem(at: scratch)
    exit(0)
}

// The tick stores alone, SQLite and PostgreSQL side by side: --store-only.
if arguments.contains("--store-only") {
    try await StoreBench().run()
    exit(0)
}

// The records, SQLite and PostgreSQL side by side: --records-only.
if arguments.contains("--records-only") {
    try await RecordsBench(scratch: scratch, rounds: rounds).run()
    try? FileManager.default.removeItem(at: scratch)
    exit(0)
}

// The HTTP endpoints under load; --http-only stops after them.
if arguments.contains("--http-only") {
    try HTTPBench(runbook: URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("runbook").path).run()
    try? FileManager.default.removeItem(at: scratch)
    exit(0)
}

// 0. The scheduler: next-fire computation, then the firing delay of minute schedules over
// --fire-minutes (default 3; 60 for the documented figures). --scheduler-only stops after it.
try await SchedulerBench(scratch: scratch, minutes: option("--fire-minutes").flatMap(Int.init) ?? 3).run()
if arguments.contains("--scheduler-only") {
    try? FileManager.default.removeItem(at: scratch)
    exit(0)
}

// 1. Per-step overhead: 1,000 steps that do nothing (a debug message nobody logs), with SQLite
// records and with none; and 1,000 `wait: 0s` steps, which add a timer round trip each.
func overhead(_ runbook: Runbook, recorder: any RunRecorder) async -> (wall: Double, cpu: Double) {
    var wall: [Double] = []
    var cpu: [Double] = []
    for _ in 0..<rounds {
        let before = cpuSeconds()
        wall.append(await seconds { _ = await executor(recorder).run(runbook, params: [:], trigger: .manual) })
        cpu.append(cpuSeconds() - before)
    }
    return (median(wall) * 1e6 / Double(runbook.steps.count), median(cpu) * 1e6 / Double(runbook.steps.count))
}

let noop = try runbook(name: "noop", steps: 1000, step: "log: {message: nothing, level: debug}")
let waits = try runbook(name: "waits", steps: 1000, step: "wait: 0s")
let records = try RecordsDatabase(path: scratch.appendingPathComponent("bench.db").path).runs
let recorded = await overhead(noop, recorder: records)
let bare = await overhead(noop, recorder: NoRecords())
let waited = await overhead(waits, recorder: records)
print("per-step overhead, 1,000 steps (median of \(rounds) runs)")
print(String(format: "  no-op steps, SQLite records   %7.1f us/step (CPU %5.1f)   goal <= 50", recorded.wall, recorded.cpu))
print(String(format: "  baseline, no records          %7.1f us/step (CPU %5.1f)", bare.wall, bare.cpu))
print(String(format: "  `wait: 0s` steps, records     %7.1f us/step (CPU %5.1f)", waited.wall, waited.cpu))

// 2. 100 `shell: true` steps against a bash loop running /bin/true 100 times.
let shells = try runbook(name: "shells", steps: 100, step: "shell: 'true'")
var engine: [Double] = []
var loop: [Double] = []
var bareSpawns: [Double] = []
for _ in 0..<rounds {
    engine.append(await seconds { _ = await executor(records).run(shells, params: [:], trigger: .manual) })
    loop.append(try await seconds { try spawn("/bin/bash", ["-c", "for i in $(seq 100); do /bin/true; done"], in: scratch) })
    bareSpawns.append(try await seconds {
        for _ in 0..<100 { _ = try await Subprocess.run(.path("/bin/true"), input: .none, output: .sequence, error: .sequence) { _ in } }
    })
}
print("100 `shell: true` steps (median of \(rounds) runs)")
print(String(format: "  runbook                 %8.1f ms", median(engine) * 1000))
print(String(format: "  baseline, bash loop     %8.1f ms", median(loop) * 1000))
print(String(format: "  floor, 100 bare spawns  %8.1f ms     (swift-subprocess, no steps, no records)", median(bareSpawns) * 1000))
print(String(format: "  ratio                   %8.2f x     goal <= 1.2", median(engine) / median(loop)))

// 3. Cold start: `runbook run` of a one-step runbook, the executable built next to this one.
let executable = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("runbook").path
if FileManager.default.isExecutableFile(atPath: executable) {
    let folder = scratch.appendingPathComponent("cold")
    try FileManager.default.createDirectory(at: folder.appendingPathComponent("Runbooks"), withIntermediateDirectories: true)
    try "name: one\nsteps:\n  - id: only\n    wait: 0s\n".write(to: folder.appendingPathComponent("Runbooks/one.yaml"), atomically: true, encoding: .utf8)
    try spawn(executable, ["run", "one"], in: folder)
    var cold: [Double] = []
    var trueStart: [Double] = []
    for _ in 0..<20 {
        cold.append(try await seconds { try spawn(executable, ["run", "one"], in: folder) })
        trueStart.append(try await seconds { try spawn("/bin/true", [], in: folder) })
    }
    print("cold start of `runbook run one` (one step, median of 20)")
    print(String(format: "  runbook run             %8.1f ms      goal <= 30", median(cold) * 1000))
    print(String(format: "  baseline, /bin/true     %8.1f ms", median(trueStart) * 1000))
} else {
    print("cold start: skipped, no runbook executable next to \(CommandLine.arguments[0]) (build with swift build -c release)")
}


// 4. The tick store against raw SQLite, on the simulator's data.
try await StoreBench().run()

// 5. The guardian: a cycle of the shipped checks, and from a fault to its runbook.
try await CheckBench(folder: scratch).run()

// 6. The telemetry bridge against libzmq's own proxy (Scripts/bench builds it).
if let proxyPath {
    let runbookPath = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("runbook").path
    try FlowBench(runbook: runbookPath, proxy: proxyPath).run()
    try JournalBench(folder: scratch).run()
} else {
    print("telemetry bridge: skipped, give --proxy PATH (Scripts/bench builds the baseline proxy)")
}

// 7. The HTTP endpoints while the bridge carries 10,000 ticks a second.
try HTTPBench(runbook: URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("runbook").path).run()
