import Foundation
import RunbookModel
import RunbookSteps

/// Local TCP ports that have a listening socket. Value: ports not bound.
public struct PortProbe: Probe {
    public static let spec = ProbeSpec(
        name: "port", summary: "local TCP ports with a listening socket (value: ports not bound)",
        inputs: [InputSpec("ports", .stringList, required: true)], unit: .count, critical: Threshold(.above, 0), shorthand: "ports"
    )

    public var ports: [Int]

    public init(inputs: [String: Value]) throws(ProbeInputError) {
        var ports: [Int] = []
        for text in inputs.texts("ports") {
            guard let port = Int(text), (1...65535).contains(port) else { throw ProbeInputError("'\(text)' is not a TCP port: write a number from 1 to 65535") }
            ports.append(port)
        }
        guard !ports.isEmpty else { throw ProbeInputError("port needs at least one port") }
        self.ports = ports
    }

    public func read(in environment: EngineServices) async throws -> ProbeReading {
        let missing = Listeners.notListening(ports)
        let text = missing.isEmpty
            ? "\(ports.count == 1 ? "port \(ports[0])" : "all \(ports.count) ports") bound"
            : "not bound: \(missing.map(String.init).joined(separator: ", "))"
        return ProbeReading(value: Double(missing.count), text: text, subject: missing.first.map { "port \($0)" })
    }
}

/// Processes running, by command name (or a pattern in the command line) or by pid file.
/// Value: how many run.
public struct ProcessProbe: Probe {
    public static let spec = ProbeSpec(
        name: "process", summary: "processes running, by name or pid file (value: how many)",
        inputs: [InputSpec("name", .string), InputSpec("pid_file", .string), InputSpec("match", .string)], unit: .count,
        critical: Threshold(.below, 1), shorthand: "name"
    )

    public var name: String?
    public var pidFile: String?
    /// Text the full command line contains (`signal_engine.py`).
    public var match: String?

    public init(inputs: [String: Value]) throws(ProbeInputError) {
        name = inputs.text("name")
        pidFile = inputs.text("pid_file")
        match = inputs.text("match")
        guard name != nil || pidFile != nil || match != nil else { throw ProbeInputError("process needs name, match or pid_file") }
    }

    public func read(in environment: EngineServices) async throws -> ProbeReading {
        if let pidFile {
            let path = environment.resolvePath(pidFile)
            guard let pid = try PidFile.read(path) else { return ProbeReading(value: 0, text: "no pid file \(path)", subject: pidFile) }
            let running = Listeners.isRunning(pid)
            return ProbeReading(value: running ? 1 : 0, text: running ? "pid \(pid) running" : "pid \(pid) not running", subject: pidFile)
        }
        let me = getpid()
        let pids = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap(Int32.init).filter { pid in
            guard pid != me, Listeners.isRunning(pid) else { return false }
            if let name, (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8))?.trimmingCharacters(in: .newlines) != name { return false }
            if let match {
                let command = (try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8))?.replacingOccurrences(of: "\0", with: " ") ?? ""
                if !command.contains(match) { return false }
            }
            return true
        }
        let what = name ?? match ?? ""
        return ProbeReading(value: Double(pids.count), text: pids.isEmpty ? "no \(what) running" : "\(pids.count) \(what) running", subject: what)
    }
}

/// How old the newest (or oldest) file matching a path or pattern is. Value: seconds.
public struct FileAgeProbe: Probe {
    public static let spec = ProbeSpec(
        name: "file_age", summary: "age of the newest file matching a path or pattern (value: seconds)",
        inputs: [InputSpec("path", .string, required: true), InputSpec("which", .string)], unit: .seconds, shorthand: "path"
    )

    public var path: String
    public var oldest: Bool

    public init(inputs: [String: Value]) throws(ProbeInputError) {
        path = inputs.text("path") ?? ""
        let which = inputs.text("which") ?? "newest"
        guard which == "newest" || which == "oldest" else { throw ProbeInputError("file_age which '\(which)' is not newest or oldest") }
        oldest = which == "oldest"
    }

    public func read(in environment: EngineServices) async throws -> ProbeReading {
        let pattern = environment.resolvePath(path)
        var times: [(String, Date)] = []
        for file in Self.expand(pattern) {
            if let modified = (try? FileManager.default.attributesOfItem(atPath: file))?[.modificationDate] as? Date { times.append((file, modified)) }
        }
        guard let chosen = oldest ? times.min(by: { $0.1 < $1.1 }) : times.max(by: { $0.1 < $1.1 }) else {
            return ProbeReading(value: .infinity, text: "no file matches \(pattern)", subject: path)
        }
        let age = max(0, environment.now().timeIntervalSince(chosen.1))
        return ProbeReading(value: age, text: "\(Age.text(age)) old", subject: (chosen.0 as NSString).lastPathComponent)
    }

    /// The files a path with `*` and `?` in its last component names.
    static func expand(_ pattern: String) -> [String] {
        let folder = (pattern as NSString).deletingLastPathComponent
        let name = (pattern as NSString).lastPathComponent
        guard name.contains("*") || name.contains("?") else { return FileManager.default.fileExists(atPath: pattern) ? [pattern] : [] }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return names.filter { fnmatch(name, $0, 0) == 0 }.map { (folder as NSString).appendingPathComponent($0) }
    }
}

/// Free space of the file system holding a path. Value: percent free.
public struct DiskFreeProbe: Probe {
    public static let spec = ProbeSpec(
        name: "disk_free", summary: "free space of the file system holding a path (value: percent free)",
        inputs: [InputSpec("path", .string)], unit: .percent, critical: Threshold(.below, 10), shorthand: "path"
    )

    public var path: String

    public init(inputs: [String: Value]) throws(ProbeInputError) {
        path = inputs.text("path") ?? "."
    }

    public func read(in environment: EngineServices) async throws -> ProbeReading {
        var stats = statvfs()
        let resolved = environment.resolvePath(path)
        guard statvfs(resolved, &stats) == 0 else { throw ProbeFailure("cannot read the file system of \(resolved): \(String(cString: strerror(errno)))") }
        let total = Double(stats.f_blocks) * Double(stats.f_frsize)
        let free = Double(stats.f_bavail) * Double(stats.f_frsize)
        guard total > 0 else { throw ProbeFailure("\(resolved) is on a file system of no size") }
        let percent = free / total * 100
        return ProbeReading(value: percent, text: String(format: "%.1f%% free (%.1f GB)", percent, free / 1e9), subject: path)
    }
}

/// Busy share of all CPUs over a short sample. Value: percent.
public struct CPUProbe: Probe {
    public static let spec = ProbeSpec(
        name: "cpu", summary: "busy share of all CPUs over a short sample (value: percent)",
        inputs: [InputSpec("sample", .duration)], unit: .percent, warning: Threshold(.above, 90)
    )

    public var sample: Duration

    public init(inputs: [String: Value]) throws(ProbeInputError) {
        sample = inputs.duration("sample") ?? .milliseconds(250)
    }

    static func times() throws -> (busy: Double, total: Double) {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8), let line = text.split(separator: "\n").first, line.hasPrefix("cpu ") else {
            throw ProbeFailure("cannot read /proc/stat")
        }
        let fields = line.split(separator: " ").dropFirst().compactMap { Double($0) }
        guard fields.count >= 4 else { throw ProbeFailure("cannot read /proc/stat") }
        let idle = fields[3] + (fields.count > 4 ? fields[4] : 0)
        let total = fields.reduce(0, +)
        return (total - idle, total)
    }

    public func read(in environment: EngineServices) async throws -> ProbeReading {
        let first = try Self.times()
        try await Task.sleep(for: sample)
        let second = try Self.times()
        let total = second.total - first.total
        let percent = total > 0 ? (second.busy - first.busy) / total * 100 : 0
        return ProbeReading(value: percent, text: String(format: "%.0f%% busy", percent))
    }
}

/// Memory in use, of the machine or of one process. Value: percent of the machine's memory.
public struct MemoryProbe: Probe {
    public static let spec = ProbeSpec(
        name: "memory", summary: "memory in use, of the machine or of a process by pid file (value: percent)",
        inputs: [InputSpec("pid_file", .string)], unit: .percent, warning: Threshold(.above, 90)
    )

    public var pidFile: String?

    public init(inputs: [String: Value]) throws(ProbeInputError) {
        pidFile = inputs.text("pid_file")
    }

    static func meminfo() throws -> [String: Double] {
        guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8) else { throw ProbeFailure("cannot read /proc/meminfo") }
        var values: [String: Double] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":")
            guard parts.count == 2, let kilobytes = Double(parts[1].split(separator: " ").first ?? "") else { continue }
            values[String(parts[0])] = kilobytes * 1024
        }
        return values
    }

    public func read(in environment: EngineServices) async throws -> ProbeReading {
        let info = try Self.meminfo()
        guard let total = info["MemTotal"], total > 0 else { throw ProbeFailure("no MemTotal in /proc/meminfo") }
        if let pidFile {
            let path = environment.resolvePath(pidFile)
            guard let pid = try PidFile.read(path),
                  let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
                  let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
                  let kilobytes = Double(line.split(separator: " ").dropFirst().first ?? "")
            else { throw ProbeFailure("no running process for \(path)") }
            let bytes = kilobytes * 1024
            return ProbeReading(value: bytes / total * 100, text: String(format: "%.0f MB resident", bytes / 1e6), subject: pidFile)
        }
        let used = total - (info["MemAvailable"] ?? info["MemFree"] ?? 0)
        let percent = used / total * 100
        return ProbeReading(value: percent, text: String(format: "%.0f%% used (%.1f of %.1f GB)", percent, used / 1e9, total / 1e9))
    }
}

/// A file holding a process id, as daemons write them.
enum PidFile {
    /// The id in `path`; nil when there is no such file.
    static func read(_ path: String) throws -> Int32? {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return nil }
        guard let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw ProbeFailure("\(path) does not hold a process id: check the pid_file of the check")
        }
        return pid
    }
}

/// Ages for people: `45s`, `12m`, `3h05m`, `never`.
public enum Age {
    public static func text(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "never" }
        // Clamped: a clock or a record far off must not stop the program that shows it.
        let whole = Int(max(-1e15, min(1e15, seconds.rounded())))
        if whole < 120 { return "\(whole)s" }
        if whole < 7200 { return "\(whole / 60)m" }
        if whole < 172_800 { return String(format: "%dh%02dm", whole / 3600, whole % 3600 / 60) }
        return "\(whole / 86_400)d"
    }
}
