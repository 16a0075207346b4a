import Foundation
import Logging
import RunbookCore
import RunbookModel
import RunbookChecks
import RunbookZMQ
import ServiceLifecycle
import Synchronization

/// The engine's control socket: other `runbook` processes (a runbook run from the command line)
/// ask the running engine to restart a service through it. A ROUTER on an ipc endpoint in the
/// data folder, readable by the engine's user only; one JSON request, one JSON answer.
/// The socket is used by the server's thread alone once bound.
public final class ControlServer: Service, @unchecked Sendable {
    private let endpoint: String
    private let engine: any EngineControl
    private let refreshGate: (@Sendable () async throws -> Void)?
    private let logger: Logger
    private let context: ZMQContext
    private let socket: ZMQSocket
    private let answers = Mutex<[[[UInt8]]]>([])
    private let stopRequested = Atomic<Bool>(false)

    /// Another engine already answers on the control socket.
    public struct InUse: Error, CustomStringConvertible {
        public var description: String
    }

    /// Binds `endpoint` now, so that a problem shows at start; refuses to take the socket of an
    /// engine that still answers on it (binding an ipc path replaces the file).
    /// `refreshGate`: reads the gate from the records again (`{"gate": "refresh"}`).
    public init(endpoint: String, engine: any EngineControl, logger: Logger, refreshGate: (@Sendable () async throws -> Void)? = nil) throws {
        self.endpoint = endpoint
        self.engine = engine
        self.refreshGate = refreshGate
        self.logger = logger
        if let path = ControlClient.path(of: endpoint), FileManager.default.fileExists(atPath: path),
           (try? ZMQOneShot.peerAnswers(at: endpoint, within: .milliseconds(500))) == true {
            throw InUse(description: "another engine answers on \(endpoint): one engine per data folder; stop it or give this one its own data_dir")
        }
        context = try ZMQContext()
        socket = try ZMQSocket(context, .router)
        try socket.setLinger(milliseconds: 0)
        // Created readable by this user alone, not opened up until a chmod.
        let mask = umask(0o077)
        defer { umask(mask) }
        try socket.bind(endpoint)
        if let path = ControlClient.path(of: endpoint) { chmod(path, 0o600) }
    }

    deinit {
        // A server that never ran still holds its socket; the context cannot end before it closes.
        socket.close()
    }

    public func run() async throws {
        let thread = Thread { [self] in serve() }
        thread.name = "control"
        thread.start()
        // Until the group shuts down (or is cancelled, which also ends the wait).
        try? await gracefulShutdown()
        stopRequested.store(true, ordering: .relaxed)
        while !finished.withLock({ $0 }) { try? await Task.sleep(for: .milliseconds(20)) }
        if let path = ControlClient.path(of: endpoint) { unlink(path) }
    }

    private let finished = Mutex(false)

    /// The socket's loop, on its own thread: requests are answered from tasks, replies sent here.
    private func serve() {
        var poller = ZMQPoller([socket])
        while !stopRequested.load(ordering: .relaxed) {
            for reply in answers.withLock({ answers in defer { answers = [] }; return answers }) {
                _ = try? socket.send(parts: reply, dontWait: true)
            }
            guard (try? poller.poll(timeout: .milliseconds(50)))?.isEmpty == false else { continue }
            while let parts = try? socket.receive(dontWait: true), parts.count >= 2 {
                let peer = parts[0]
                let request = parts[parts.count - 1]
                Task { [self] in
                    let answer = await handle(request)
                    answers.withLock { $0.append([peer, Array(answer)]) }
                }
            }
        }
        socket.close()
        context.shutdown()
        finished.withLock { $0 = true }
    }

    private func handle(_ request: [UInt8]) async -> Data {
        func reply(_ object: [String: Any]) -> Data {
            (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(request)) as? [String: Any] else {
            return reply(["error": "the request is not a JSON object"])
        }
        if let service = object["restart"] as? String {
            do {
                try await engine.restart(service)
                return reply(["ok": true])
            } catch {
                return reply(["error": "\(error)"])
            }
        }
        if object["gate"] as? String == "refresh", let refreshGate {
            do {
                try await refreshGate()
                return reply(["ok": true])
            } catch {
                return reply(["error": "the engine could not read the gate from its records: \(error)"])
            }
        }
        return reply(["error": "unknown request: send {\"restart\": SERVICE} or {\"gate\": \"refresh\"}"])
    }
}

/// Reaches a running engine from another process: its state from the state file it writes each
/// second, restarts through its control socket.
public struct ControlClient: EngineControl {
    public var stateFile: String
    public var endpoint: String
    /// How old the state file may be for the engine to count as running.
    public var freshness: TimeInterval = 5
    /// How long a restart may take to answer (verification included).
    public var timeout: Duration = .seconds(60)

    public init(stateFile: String, endpoint: String) {
        self.stateFile = stateFile
        self.endpoint = endpoint
    }

    /// The socket file of an `ipc://` endpoint.
    static func path(of endpoint: String) -> String? {
        endpoint.hasPrefix("ipc://") ? String(endpoint.dropFirst(6)) : nil
    }

    public func snapshot() async throws -> EngineSnapshot {
        guard let data = FileManager.default.contents(atPath: stateFile) else {
            throw EngineUnavailable("the engine is not running: no \(stateFile); start it with `runbook up`")
        }
        let snapshot: EngineSnapshot
        do {
            snapshot = try EngineSnapshot.decoder.decode(EngineSnapshot.self, from: data)
        } catch {
            throw EngineUnavailable("cannot read \(stateFile): \(error)")
        }
        let age = Date().timeIntervalSince(snapshot.updatedAt)
        guard age <= freshness, kill(pid_t(snapshot.pid), 0) == 0 || errno == EPERM else {
            throw EngineUnavailable("the engine is not running: \(stateFile) was last written \(Age.text(age)) ago; start it with `runbook up`")
        }
        return snapshot
    }

    public func serviceNames() async throws -> [String] {
        try await snapshot().services.map(\.name)
    }

    public func restart(_ service: String) async throws {
        _ = try await snapshot()
        let answer = try await request(["restart": service], within: timeout)
        if let error = answer["error"] as? String { throw RestartRefused(error) }
    }

    /// Tells the running engine that the gate changed in the records, and waits until it has read
    /// it: once this returns, its command router lets through no fire the change stops.
    /// Throws `EngineUnavailable` only when no engine runs.
    public func refreshGate() async throws {
        _ = try await snapshot()
        let answer: [String: Any]
        do {
            answer = try await request(["gate": "refresh"], within: .seconds(10))
        } catch {
            throw GateRefused("the running engine did not confirm it read the gate: \(error)")
        }
        if let error = answer["error"] as? String { throw GateRefused(error) }
    }

    /// One request on the control socket and its answer.
    private func request(_ object: [String: String], within timeout: Duration) async throws -> [String: Any] {
        let request = try JSONSerialization.data(withJSONObject: object)
        let endpoint = self.endpoint
        let reply: Data = try await ZMQOneShot.offThread {
            let context = try ZMQContext()
            defer { context.shutdown() }
            let socket = try ZMQSocket(context, .dealer)
            defer { socket.close() }
            try socket.setLinger(milliseconds: 0)
            try socket.setReceiveTimeout(milliseconds: Int32(clamping: timeout.milliseconds))
            try socket.connect(endpoint)
            _ = try socket.send(Array(request))
            guard let parts = try socket.receive(), let last = parts.last else {
                throw EngineUnavailable("the engine did not answer on \(endpoint) within \(DurationText.format(timeout))")
            }
            return Data(last)
        }
        guard let answer = try? JSONSerialization.jsonObject(with: reply) as? [String: Any] else {
            throw EngineUnavailable("the engine's answer on \(endpoint) is not JSON")
        }
        return answer
    }
}
