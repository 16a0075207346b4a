import RunbookChecks
import Foundation
import Logging
import Subprocess
import Synchronization
import SystemPackage

/// An external program the engine keeps running (signal engine, web app, simulators).
public final class ProcessUnit: SupervisedUnit {
    public struct Spec: Sendable {
        public var name: String
        public var executable: String
        public var arguments: [String]
        public var environment: [String: String]
        public var workingDirectory: String?
        public var ports: [Int]
        /// After SIGTERM, how long the program has before SIGKILL.
        public var stopTimeout: Duration
        /// Its own restart policy; the engine's when nil.
        public var policy: RestartPolicy?

        public init(
            name: String, executable: String, arguments: [String] = [], environment: [String: String] = [:], workingDirectory: String? = nil,
            ports: [Int] = [], stopTimeout: Duration = .seconds(10), policy: RestartPolicy? = nil
        ) {
            self.name = name
            self.executable = executable
            self.arguments = arguments
            self.environment = environment
            self.workingDirectory = workingDirectory
            self.ports = ports
            self.stopTimeout = stopTimeout
            self.policy = policy
        }
    }

    public let spec: Spec
    private let logger: Logger
    private let running = Mutex<(task: Task<String, Never>?, pid: Int32?)>((nil, nil))

    public init(_ spec: Spec, logger: Logger) {
        self.spec = spec
        self.logger = logger
    }

    public var name: String { spec.name }
    public var ports: [Int] { spec.ports }
    public var pid: Int32? { running.withLock { $0.pid } }

    public func start() throws {
        guard spec.executable.contains("/") ? FileManager.default.isExecutableFile(atPath: spec.executable) : true else {
            throw SupervisionError("\(spec.name): \(spec.executable) is not an executable file")
        }
        let spec = self.spec
        let logger = self.logger
        // The lock is held until the task is recorded, so the pid the task records is never overwritten.
        running.withLock { running in
            running.pid = nil
            running.task = Task { [self] () -> String in
                var options = PlatformOptions()
                options.processGroupID = 0
                options.teardownSequence = [.gracefulShutDown(toProcessGroup: true, allowedDurationToNextStep: spec.stopTimeout)]
                var variables: [Environment.Key: String?] = [:]
                for (key, value) in spec.environment { variables[Environment.Key(stringLiteral: key)] = value }
                do {
                    let result = try await Subprocess.run(
                        spec.executable.contains("/") ? .path(FilePath(spec.executable)) : .name(spec.executable),
                        arguments: Arguments(spec.arguments),
                        environment: .inherit.updating(variables),
                        workingDirectory: spec.workingDirectory.map { FilePath($0) },
                        platformOptions: options,
                        input: .none, output: .sequence, error: .sequence
                    ) { execution in
                        self.running.withLock { $0.pid = execution.processIdentifier.value }
                        async let errors: Void = Self.forward(execution.standardError, to: logger, name: spec.name)
                        await Self.forward(execution.standardOutput, to: logger, name: spec.name)
                        await errors
                    }
                    self.running.withLock { $0.pid = nil }
                    switch result.terminationStatus {
                    case .exited(let code): return "\(spec.name) exited with status \(code)"
                    case .signaled(let signal): return "\(spec.name) was killed by signal \(signal)"
                    }
                } catch {
                    self.running.withLock { $0.pid = nil }
                    return "\(spec.name) could not run: \(error)"
                }
            }
        }
    }

    /// The program's output, line by line, into the engine's log.
    private static func forward(_ stream: SubprocessOutputSequence, to logger: Logger, name: String) async {
        do {
            for try await line in stream.strings() {
                logger.info("\(line.trimmingCharacters(in: .newlines))", metadata: ["service": "\(name)"])
            }
        } catch {}
    }

    /// Up: the program runs, and each of its ports is held by its own process group.
    public func verify() -> String? {
        guard let pid = self.pid, Listeners.isRunning(pid) else { return "\(spec.name) is not running" }
        for port in spec.ports {
            let holders = Listeners.holderPIDs(of: port)
            guard !holders.isEmpty else { return "port \(port) is not bound" }
            guard holders.contains(where: { getpgid($0) == pid }) else {
                return "port \(port) is held by pid \(holders.map(String.init).joined(separator: ", ")), not by \(spec.name)"
            }
        }
        return nil
    }

    public func finished() async -> String {
        guard let task = running.withLock({ $0.task }) else { return "not started" }
        return await task.value
    }

    /// SIGTERM to the program's process group, its output read to the end; SIGKILL (by cancelling
    /// the run) only if it has not exited within its stop timeout.
    public func stop() async {
        guard let (task, pid) = running.withLock({ state in state.task.map { ($0, state.pid) } }) else { return }
        if let pid { kill(-pid, SIGTERM) }
        let killer = Task {
            try await Task.sleep(for: pid == nil ? .zero : spec.stopTimeout)
            task.cancel()
        }
        _ = await task.value
        killer.cancel()
    }
}

public struct SupervisionError: Error, Sendable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}
