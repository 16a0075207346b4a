import Foundation

/// Runs the built `runbook` executable in a scratch folder, as an operator would.
struct CLIHarness {
    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String

        var json: [String: Any] {
            (try? JSONSerialization.jsonObject(with: Data(stdout.utf8))) as? [String: Any] ?? [:]
        }
    }

    let folder: URL

    /// The executable built next to this test bundle.
    static let executable: URL = {
        let sibling = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("runbook")
        if FileManager.default.isExecutableFile(atPath: sibling.path) { return sibling }
        let package = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return package.appendingPathComponent(".build/debug/runbook")
    }()

    /// The runbooks the project ships.
    static let shippedRunbooks = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Runbooks")

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("Runbooks"), withIntermediateDirectories: true)
    }

    /// The project's own `Checks`, `Runbooks` or `Schedules`, copied into the scratch folder.
    func copyShipped(_ folders: String...) throws {
        for folder in folders {
            try FileManager.default.copyItem(atPath: EscalationTests.repository.appendingPathComponent(folder).path, toPath: path(folder))
        }
    }

    func write(_ name: String, _ text: String) throws {
        let url = folder.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: url, atomically: true, encoding: .utf8)
    }

    func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    func start(_ arguments: [String], environment extra: [String: String] = [:]) throws -> (Process, URL, URL) {
        let process = Process()
        process.executableURL = Self.executable
        process.arguments = arguments
        process.currentDirectoryURL = folder
        var environment = ProcessInfo.processInfo.environment
        environment["RUNBOOK_CONFIG"] = nil
        environment.merge(extra) { $1 }
        process.environment = environment
        let out = folder.appendingPathComponent(".out-\(UUID().uuidString)")
        let err = folder.appendingPathComponent(".err-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        return (process, out, err)
    }

    func finish(_ started: (Process, URL, URL)) throws -> Result {
        let (process, out, err) = started
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus,
            stdout: try String(contentsOf: out, encoding: .utf8),
            stderr: try String(contentsOf: err, encoding: .utf8)
        )
    }

    @discardableResult
    func run(_ arguments: String...) throws -> Result {
        try finish(try start(arguments))
    }

    func remove() { try? FileManager.default.removeItem(at: folder) }
}
