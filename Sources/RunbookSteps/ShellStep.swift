import Foundation
import RunbookModel
import Subprocess
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Runs a command with a shell. Values reach it as environment variables, never pasted into the
/// command line. The command runs in a process group of its own, which is killed when the command
/// ends (what it started in the background goes with it), on a timeout or a cancelled run, and
/// when this process dies, even by kill -9 (`ProcessGroupWatchdog`).
public struct ShellStep: StepPrimitive {
    public static let spec = PrimitiveSpec(
        name: "shell",
        summary: "run a command; values arrive as environment variables",
        inputs: [
            InputSpec(
                "command", .string, required: true, allowsTemplates: false,
                instead: "pass values through env (env: {TARGET: \"${{ params.target }}\"}) and write \"$TARGET\" in the command"
            ),
            InputSpec("env", .stringMap),
            InputSpec("cwd", .string),
            InputSpec("shell", .string),
            InputSpec("expect_exit", .stringList),
            InputSpec("output_limit", .size),
            InputSpec("stop_grace", .duration),
        ],
        outputs: ["stdout", "stderr", "exit_code"],
        shorthand: "command"
    )

    /// Waits for a line on standard input, then runs the command (its arguments) with no input;
    /// never runs it when the input ends first.
    static let gate = #"IFS= read -r _ || exit 125; exec "$@" </dev/null"#

    /// The file a command writes `name=value` lines to, to set its declared outputs.
    public static let outputFileVariable = "RUNBOOK_OUTPUT"

    public var command: String
    public var env: [String: String]
    public var cwd: String?
    public var shell: String
    public var expectedExitCodes: Set<Int32>
    public var outputLimit: Int
    public var stopGrace: Duration
    /// The program a plain command runs without a shell, found once when the step is built.
    private let direct: (program: String, arguments: [String])?

    public init(inputs: ResolvedInputs) throws(StepInputError) {
        command = try inputs.string("command")
        env = inputs.stringMap("env")
        cwd = inputs.has("cwd") ? try inputs.string("cwd") : nil
        shell = inputs.string("shell", default: "/bin/bash")
        var codes: Set<Int32> = []
        for text in inputs.strings("expect_exit", default: ["0"]) {
            guard let code = Int32(text) else { throw StepInputError("expect_exit '\(text)' is not an exit code") }
            codes.insert(code)
        }
        expectedExitCodes = codes
        outputLimit = Int(try inputs.size("output_limit") ?? 64 * 1024)
        stopGrace = try inputs.duration("stop_grace", default: .seconds(2))
        direct = Self.directCommand(command, path: env["PATH"] ?? ProcessInfo.processInfo.environment["PATH"])
    }

    public func describe() -> String {
        var text = "run `\(command)` with \(shell)"
        if let cwd { text += " in \(cwd)" }
        if !env.isEmpty { text += " with " + env.keys.sorted().map { "\($0)=\(env[$0]!)" }.joined(separator: " ") }
        return text
    }

    public func run(in context: StepContext) async throws -> StepResult {
        let outputFile = FileManager.default.temporaryDirectory
            .appendingPathComponent("runbook-\(context.runID)-\(context.stepID)-\(context.attempt)-\(UUID().uuidString).out").path
        // The command creates the file when it first writes an output; most never do.
        defer { unlink(outputFile) }

        var variables: [Environment.Key: String?] = [:]
        for (key, value) in context.environment.merging(env, uniquingKeysWith: { $1 }) {
            variables[Environment.Key(stringLiteral: key)] = value
        }
        variables[Environment.Key(stringLiteral: Self.outputFileVariable)] = outputFile

        var options = PlatformOptions()
        // Its own process group, so that a timeout reaches every child the command started.
        options.processGroupID = 0
        options.teardownSequence = [.gracefulShutDown(toProcessGroup: true, allowedDurationToNextStep: stopGrace)]

        let limit = outputLimit
        let program = direct.map { [$0.program] + $0.arguments } ?? [shell, "-c", command]
        // The command waits at the gate until the watchdog knows its group: killed before then,
        // this process leaves nothing behind.
        var gate: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &gate) == 0 else {
            throw StepFailure("cannot start the command: socketpair: \(String(cString: strerror(errno)))")
        }
        defer { close(gate[0]) }
        let result = try await Subprocess.run(
            .path(FilePath("/bin/sh")),
            arguments: Arguments(["-c", Self.gate, "sh"] + program),
            environment: .inherit.updating(variables),
            workingDirectory: FilePath(context.resolvePath(cwd ?? ".")),
            platformOptions: options,
            input: .fileDescriptor(FileDescriptor(rawValue: gate[1]), closeAfterSpawningProcess: true),
            output: .sequence,
            error: .sequence
        ) { execution in
            let group = execution.processIdentifier.value
            let watched = await ProcessGroupWatchdog.watch(group)
            defer { watched.release() }
            _ = send(gate[0], "\n", 1, Int32(MSG_NOSIGNAL))
            async let stderr = Self.collect(execution.standardError, limit: limit)
            async let stdout = Self.collect(execution.standardOutput, limit: limit)
            // The command has ended: what it left running in its group goes too, and with it any
            // output it held open, so `sleep 1000 &` ends with the step instead of holding it.
            if await Self.exited(execution.processIdentifier) { kill(-group, SIGKILL) }
            return (try await stdout, try await stderr)
        }
        // Without a pidfd to wait on, the group is killed once its output has ended.
        if result.processIdentifier.processDescriptor < 0 { kill(-result.processIdentifier.value, SIGKILL) }
        let (stdout, stderr) = result.closureResult
        var outputs = Self.readOutputFile(outputFile)
        outputs["stdout"] = .string(stdout.text.trimmingCharacters(in: .newlines))
        outputs["stderr"] = .string(stderr.text.trimmingCharacters(in: .newlines))

        let combined = [stdout.text, stderr.text].filter { !$0.isEmpty }.joined(separator: stdout.text.hasSuffix("\n") ? "" : "\n")
        switch result.terminationStatus {
        case .exited(let code):
            outputs["exit_code"] = .number(Double(code))
            guard expectedExitCodes.contains(code) else {
                throw StepFailure("command exited with \(code) (expected \(expectedExitCodes.sorted().map(String.init).joined(separator: " or ")))", exitCode: code, output: combined, outputs: outputs)
            }
            return StepResult(outputs: outputs, exitCode: code, output: combined)
        case .signaled(let signal):
            try Task.checkCancellation()
            throw StepFailure("command was killed by signal \(signal)", exitCode: 128 + signal, output: combined, outputs: outputs)
        }
    }

    /// Waits until the process has exited, through its pidfd; false at once when there is none to wait on.
    private static func exited(_ process: ProcessIdentifier) async -> Bool {
        guard process.processDescriptor >= 0 else { return false }
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            let source = DispatchSource.makeReadSource(fileDescriptor: process.processDescriptor, queue: .global())
            source.setEventHandler { source.cancel() }
            source.setCancelHandler { done.resume() }
            source.resume()
        }
        return true
    }

    private static func collect(_ sequence: SubprocessOutputSequence, limit: Int) async throws -> BoundedOutput {
        var output = BoundedOutput(limit: limit)
        for try await buffer in sequence {
            buffer.withUnsafeBytes { output.append($0) }
        }
        return output
    }

    /// Words a shell treats specially, so a command that starts with one needs the shell.
    private static let shellWords: Set<String> = [
        "exit", "cd", "export", "set", "unset", "source", ".", "eval", "exec", "alias", "read", "echo", "printf", "type",
        "ulimit", "umask", "wait", "trap", "shift", "return", "if", "then", "else", "fi", "for", "while", "until", "do",
        "done", "case", "esac", "function", "time", "{", "}", "!", "[[", "local", "declare", "readonly", "let",
    ]

    /// A command of plain words (no quotes, variables, globs, redirections or operators) is run
    /// directly, as a shell would run it, rather than by `shell`: the same result, a process less.
    public static func directCommand(_ command: String, path: String?) -> (program: String, arguments: [String])? {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./=:,+@% ")
        guard command.allSatisfy({ allowed.contains($0) }) else { return nil }
        let words = command.split(separator: " ").map(String.init)
        guard let first = words.first, !shellWords.contains(first), !first.contains("=") else { return nil }
        let program: String
        if first.contains("/") {
            program = first
        } else {
            guard let found = (path ?? "/usr/bin:/bin").split(separator: ":").lazy
                .map({ "\($0)/\(first)" }).first(where: { FileManager.default.isExecutableFile(atPath: $0) })
            else { return nil }
            program = found
        }
        guard FileManager.default.isExecutableFile(atPath: program) else { return nil }
        return (program, Array(words.dropFirst()))
    }

    /// `name=value` lines, as a command writes them to `$RUNBOOK_OUTPUT`.
    static func readOutputFile(_ path: String) -> [String: Value] {
        guard let data = FileManager.default.contents(atPath: path) else { return [:] }
        var outputs: [String: Value] = [:]
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
            guard let equals = line.firstIndex(of: "=") else { continue }
            let name = line[..<equals].trimmingCharacters(in: .whitespaces)
            outputs[name] = .string(String(line[line.index(after: equals)...]))
        }
        return outputs
    }
}
