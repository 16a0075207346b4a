import Clocks
import Foundation
import Logging
import RunbookApp
import RunbookModel
import RunbookSteps

/// A scratch folder and a context for running one primitive at a time.
struct StepHarness {
    let folder: URL

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("steps-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    func context(clock: any Clock<Duration> = ContinuousClock(), values: [String: Value] = [:]) -> StepContext {
        StepContext(
            runID: 1, runbook: "test", stepID: "step", attempt: 1, workingDirectory: folder.path, environment: ["RUNBOOK_RUN_ID": "1"],
            clock: clock, logger: Logger(label: "test"), evaluator: ExpressionEvaluator { values[$0.description] },
            makeNested: { nested in try Catalog.steps.make(nested.name, inputs: Self.literalInputs(nested.inputs)) },
            runChild: { _, _ in ChildRun(runID: 2, status: "succeeded", succeeded: true) }
        )
    }

    /// Builds a primitive from YAML inputs, the way a runbook step writes them.
    func primitive(_ name: String, _ yaml: String) throws -> any StepPrimitive {
        let runbook = try RunbookLoader(catalog: Catalog.steps).load(text: "name: t\nsteps:\n  - id: s\n    \(name):\n\(yaml.split(separator: "\n").map { "      \($0)" }.joined(separator: "\n"))\n", file: "t.yaml")
        return try Catalog.steps.make(name, inputs: Self.literalInputs(runbook.steps[0].inputs))
    }

    static func literalInputs(_ inputs: Inputs) -> ResolvedInputs {
        ResolvedInputs(literal: inputs) ?? ResolvedInputs()
    }

    /// Writes a file with a modification time `age` ago.
    func file(_ name: String, bytes: Int = 100, age: TimeInterval = 0) throws {
        let url = folder.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data((0..<bytes).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ name.count) }).write(to: url)
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(-age)], ofItemAtPath: url.path)
    }

    func exists(_ name: String) -> Bool { FileManager.default.fileExists(atPath: path(name)) }

    func remove() { try? FileManager.default.removeItem(at: folder) }
}

let day: TimeInterval = 86_400
