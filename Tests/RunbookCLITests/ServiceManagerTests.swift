import Foundation
@testable import RunbookCLI
import Testing

@Suite struct RotatingLogFileTests {
    @Test func theLogRotatesBySizeAndKeepsN() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("logs-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("engine.log").path
        let log = try RotatingLogFile(path: path, maxBytes: 1024, keep: 2)
        for index in 0..<100 { log.write("line \(index) " + String(repeating: "x", count: 90) + "\n") }
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted()
        #expect(names == ["engine.log", "engine.log.1", "engine.log.2"])
        for name in names {
            let size = try FileManager.default.attributesOfItem(atPath: folder.appendingPathComponent(name).path)[.size] as? Int ?? 0
            #expect(size <= 1024)
        }
        let newest = try String(contentsOfFile: path, encoding: .utf8)
        #expect(newest.hasSuffix("line 99 " + String(repeating: "x", count: 90) + "\n"))
    }
}

@Suite(.serialized) struct ServiceManagerTests {
    @Test func upTellsSystemdWhenReadyPingsTheWatchdogAndSaysWhenStopping() async throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        try cli.write("runbook.yaml", EnginePorts().config(queue: cli.path("queue.ipc")))
        let socketPath = cli.path("notify.sock")
        let listener = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(listener) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in socketPath.utf8CString.withUnsafeBytes { buffer.copyMemory(from: $0) } }
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        #expect(bound == 0)
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(listener, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))

        let engine = try cli.start(["up", "--log-format", "text"], environment: ["NOTIFY_SOCKET": socketPath, "WATCHDOG_USEC": "400000"])
        func next() -> String? {
            var buffer = [UInt8](repeating: 0, count: 4096)
            let count = recv(listener, &buffer, buffer.count, 0)
            return count > 0 ? String(decoding: buffer.prefix(count), as: UTF8.self) : nil
        }
        let ready = next()
        #expect(ready?.hasPrefix("READY=1\nSTATUS=flows bound: telemetry-bridge") == true, "\(ready ?? "nothing")")
        #expect(next() == "WATCHDOG=1")
        #expect(next() == "WATCHDOG=1")
        kill(engine.0.processIdentifier, SIGTERM)
        var last: String?
        while let message = next() {
            last = message
            if message == "STOPPING=1" { break }
        }
        #expect(last == "STOPPING=1")
        #expect(try cli.finish(engine).status == 0)
    }
}
