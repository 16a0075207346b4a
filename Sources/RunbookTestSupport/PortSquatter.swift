import Foundation

/// Another program (Python) listening on a TCP port, as a port-in-use test needs.
public final class PortSquatter {
    public let process = Process()

    public init(port: Int) throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = ["-c", "import socket,time; s=socket.socket(); s.bind(('127.0.0.1', \(port))); s.listen(); time.sleep(600)"]
        try process.run()
    }

    public var pid: Int32 { process.processIdentifier }

    deinit {
        // Started from a test thread, it may have SIGTERM blocked.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }
}
