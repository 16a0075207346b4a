import Foundation
import Subprocess
import Synchronization
import SystemPackage

/// A throwaway PostgreSQL server of the tests' own: `initdb` into a scratch folder, started on a
/// free port on loopback (as the `postgres` user when the tests run as root, since the server
/// refuses to run as root), password authentication over TCP, stopped and removed when it goes.
/// `shared()` is one for the whole test process, stopped at its exit; a test that stops its
/// server on purpose starts its own.
public final class PostgresServer: @unchecked Sendable {
    public static let user = "runbook"
    public static let password = "runbook-test-Pa55"

    public let folder: URL
    public private(set) var port: Int
    private var durable = false
    private let data: URL
    private let counter = Mutex(0)

    public struct Failed: Error, CustomStringConvertible {
        public var description: String
    }

    /// The server every test of the process shares, started on first use and stopped when the
    /// process exits.
    public static func shared() async throws -> PostgresServer {
        try await sharedServer.value
    }

    private static let sharedServer = Task {
        let server = try await PostgresServer.start()
        sharedFolder.withLock { $0 = server.folder }
        atexit {
            if let folder = PostgresServer.sharedFolder.withLock({ $0 }) { PostgresServer.halt(folder.appendingPathComponent("data")) }
        }
        return server
    }

    private static let sharedFolder = Mutex<URL?>(nil)

    /// The folder of PostgreSQL's programs: version 15 where installed, else the newest.
    static var binaries: URL {
        get throws {
            let root = URL(fileURLWithPath: "/usr/lib/postgresql")
            let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []).compactMap(Int.init).sorted()
            guard let version = versions.contains(15) ? 15 : versions.last else {
                throw Failed(description: "no PostgreSQL server in /usr/lib/postgresql: run Scripts/bootstrap (it installs postgresql-15)")
            }
            return root.appendingPathComponent("\(version)/bin")
        }
    }

    private init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("runbook-postgres-\(UUID().uuidString)")
        data = folder.appendingPathComponent("data")
        port = 0
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try FileManager.default.setAttributes([.posixPermissions: 0o777], ofItemAtPath: folder.path)
    }

    /// A new cluster in a scratch folder, started. `durable`: with the server's own defaults
    /// (fsync, full page writes, synchronous commit), as a production server runs, for figures;
    /// otherwise without them, for tests (a crash of the machine would lose the scratch cluster).
    public static func start(durable: Bool = false) async throws -> PostgresServer {
        let server = try PostgresServer()
        server.durable = durable
        let passwordFile = server.folder.appendingPathComponent("password")
        try Self.password.write(to: passwordFile, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: passwordFile.path)
        try await server.run("initdb", ["-D", server.data.path, "-U", Self.user, "--pwfile", passwordFile.path, "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C"])
        try await server.start()
        return server
    }

    deinit {
        Self.halt(data)
        try? FileManager.default.removeItem(at: folder)
    }

    /// Stops the server of `data` at once, without waiting for anything async (for `deinit` and
    /// the process's exit): SIGQUIT to the postmaster, then a wait for it to go.
    static func halt(_ data: URL) {
        guard let text = try? String(contentsOf: data.appendingPathComponent("postmaster.pid"), encoding: .utf8),
              let pid = text.split(separator: "\n").first.flatMap({ pid_t($0) }) else { return }
        kill(pid, SIGQUIT)
        for _ in 0..<500 where kill(pid, 0) == 0 { usleep(10_000) }
    }

    /// Starts the server (again), on the port it had or a free one.
    public func start() async throws {
        if port == 0 { port = try Self.freePort() }
        try await run("pg_ctl", [
            "-D", data.path, "-l", folder.appendingPathComponent("server.log").path, "-w", "-t", "60",
            "-o", "-p \(port) -k \(folder.path) -c listen_addresses=127.0.0.1 -c max_connections=200" + (durable ? "" : " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"),
            "start",
        ])
    }

    /// Stops the server at once (`immediate`: as a crash would, for the tests of outages).
    public func stop() async throws {
        try await run("pg_ctl", ["-D", data.path, "-m", "immediate", "-w", "stop"])
    }

    /// A fresh database of its own for one test, and its URL with the password.
    public func makeDatabase() async throws -> String {
        let name = counter.withLock { count in
            count += 1
            return "test_\(ProcessInfo.processInfo.processIdentifier)_\(count)"
        }
        try await sql("CREATE DATABASE \(name)")
        return url(database: name)
    }

    public func url(database: String, password: String = PostgresServer.password) -> String {
        "postgresql://\(Self.user):\(password)@127.0.0.1:\(port)/\(database)"
    }

    /// Runs a statement with psql over the server's socket, returning what it printed.
    @discardableResult
    public func sql(_ statement: String, database: String = "postgres") async throws -> String {
        try await run("psql", ["-h", folder.path, "-p", "\(port)", "-U", Self.user, "-d", database, "-v", "ON_ERROR_STOP=1", "-Atc", statement], asServer: false)
    }

    /// Runs one of PostgreSQL's programs (as the `postgres` user where the server needs it) and
    /// returns what it printed. Output goes to a file, not a pipe: the server `pg_ctl start` leaves
    /// running would hold a pipe open, and reading it to its end would wait for the server to stop.
    @discardableResult
    private func run(_ program: String, _ arguments: [String], asServer: Bool = true) async throws -> String {
        let path = try Self.binaries.appendingPathComponent(program).path
        let (executable, all) = asServer && getuid() == 0 ? ("/usr/sbin/runuser", ["-u", "postgres", "--", path] + arguments) : (path, arguments)
        let outputFile = folder.appendingPathComponent("output-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: outputFile) }
        let output = try FileDescriptor.open(FilePath(outputFile.path), .writeOnly, options: [.create, .truncate], permissions: [.ownerReadWrite])
        let result = try await Subprocess.run(
            .path(FilePath(executable)), arguments: Arguments(all), input: .none,
            output: .fileDescriptor(output, closeAfterSpawningProcess: false), error: .fileDescriptor(output, closeAfterSpawningProcess: false)
        )
        try? output.close()
        let text = ((try? String(contentsOf: outputFile, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard case .exited(0) = result.terminationStatus else {
            throw Failed(description: "\(program) \(arguments.joined(separator: " ")) failed (\(result.terminationStatus)): \(text)")
        }
        return text
    }

    /// A TCP port nothing listens on now.
    public static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0 else { throw Failed(description: "cannot find a free port: \(String(cString: strerror(errno)))") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
