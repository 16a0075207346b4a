import Clocks
import Foundation
import RunbookApp
import RunbookExecutor
import RunbookModel
import RunbookSQLite
import RunbookSteps

/// Runbooks written inline, run by a real executor into a real records file in a scratch folder.
struct ExecutorHarness {
    let folder: URL
    let records: RecordsDatabase
    var runbooks: [String: Runbook] = [:]

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("executor-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        records = try RecordsDatabase(path: folder.appendingPathComponent("runbook.db").path)
    }

    @discardableResult
    mutating func add(_ yaml: String) throws -> Runbook {
        let runbook = try RunbookLoader(catalog: Catalog.steps).load(text: yaml, file: "inline.yaml")
        runbooks[runbook.name] = runbook
        return runbook
    }

    func executor(clock: any Clock<Duration> = ContinuousClock(), recorder: (any RunRecorder)? = nil) -> Executor {
        let known = runbooks
        return Executor(
            registry: Catalog.steps, recorder: recorder ?? records.runs, clock: clock, workingDirectory: folder.path,
            lookup: { name in
                guard let runbook = known[name] else { throw ValidationFailure([]) }
                return runbook
            }
        )
    }

    func run(_ name: String, params: [String: String] = [:], clock: any Clock<Duration> = ContinuousClock()) async throws -> RunReport {
        let runbook = runbooks[name]!
        return await executor(clock: clock).run(runbook, params: try ParamBinding.bind(params, to: runbook), trigger: .manual)
    }

    func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

    func remove() { try? FileManager.default.removeItem(at: folder) }
}
