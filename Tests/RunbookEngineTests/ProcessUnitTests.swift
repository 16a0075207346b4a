import RunbookChecks
import Foundation
import RunbookTestSupport
import Logging
import RunbookEngine
import RunbookFlows
import RunbookZMQ
import Testing

@Suite struct ProcessUnitTests {
    @Test func aKilledChildIsRestartedAndItsPortVerified() async throws {
        let port = Int.random(in: 12_000..<16_000)
        let unit = ProcessUnit(.init(
            name: "listener", executable: "/usr/bin/python3",
            arguments: ["-c", "import socket,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1', \(port))); s.listen(); time.sleep(300)"],
            ports: [port], stopTimeout: .seconds(2)
        ), logger: Logger(label: "test"))
        let supervisor = Supervisor(unit: unit, policy: RestartPolicy(wait: .milliseconds(100), budget: 3), clock: ContinuousClock(), logger: Logger(label: "test"))
        try supervisor.startFirst()
        let task = Task { await supervisor.supervise() }
        #expect(await eventually { Listeners.isListening(port) && unit.pid != nil })
        let first = try #require(unit.pid)

        kill(first, SIGKILL)
        #expect(await eventually { supervisor.status.restarts == 1 && supervisor.status.state == .running && unit.pid != first })
        #expect(supervisor.status.lastError == "listener was killed by signal 9")
        #expect(Listeners.isListening(port))

        task.cancel()
        await task.value
        #expect(supervisor.status.state == .stopped)
        #expect(await eventually { !Listeners.isListening(port) })
    }

    @Test func aRestartIsNotVerifiedWhenAnotherProgramHoldsThePort() async throws {
        let port = Int.random(in: 12_000..<16_000)
        let squatter = try PortSquatter(port: port)
        #expect(await eventually { Listeners.isListening(port) })

        let unit = ProcessUnit(.init(name: "engine", executable: "/bin/sleep", arguments: ["300"], ports: [port], stopTimeout: .seconds(1)), logger: Logger(label: "test"))
        let supervisor = Supervisor(unit: unit, policy: RestartPolicy(wait: .milliseconds(50), budget: 1), clock: ContinuousClock(), logger: Logger(label: "test"))
        try supervisor.startFirst()
        let task = Task { await supervisor.supervise() }
        #expect(await eventually { unit.pid != nil })
        #expect(unit.verify() == "port \(port) is held by pid \(squatter.pid), not by engine")
        kill(unit.pid!, SIGKILL)
        #expect(await eventually(within: .seconds(30)) { supervisor.status.state == .gaveUp })
        #expect(supervisor.status.lastError?.contains("not verified") == true)
        task.cancel()
        await task.value
        withExtendedLifetime(squatter) {}
    }

    @Test func theHolderOfABoundPortIsNamedButNeverThisProcess() async throws {
        let mine = Darwinless.listen()
        defer { close(mine.fd) }
        #expect(Listeners.isListening(mine.port))
        #expect(Listeners.holder(of: mine.port) == nil)

        let port = Int.random(in: 12_000..<16_000)
        let child = try PortSquatter(port: port)
        #expect(await eventually { Listeners.isListening(port) })
        #expect(Listeners.holder(of: port)?.hasPrefix("pid \(child.pid) (/usr/bin/python3") == true)
    }
}

/// A listening TCP socket on a port the kernel picks.
enum Darwinless {
    static func listen() -> (fd: Int32, port: Int) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        _ = Glibc.listen(fd, 1)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = getsockname(fd, $0, &length) } }
        return (fd, Int(UInt16(bigEndian: address.sin_port)))
    }
}

@Suite struct FlowUnitTests {
    @Test func aRestartedFlowBindsItsPortsAgain() async throws {
        let port = Int.random(in: 16_000..<20_000)
        let context = try ZMQContext()
        let flow = ConfirmationListener(input: "tcp://127.0.0.1:\(port)", store: nil, logger: Logger(label: "test"))
        let unit = FlowUnit(flow, context: context)
        #expect(unit.ports == [port])
        for _ in 0..<2 {
            try unit.start()
            #expect(await eventually { Listeners.isListening(port) })
            await unit.stop()
            #expect(await eventually { !Listeners.isListening(port) })
        }
    }
}
