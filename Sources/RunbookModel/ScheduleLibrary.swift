import Foundation

/// The schedules of a folder, each validated, names unique.
public struct ScheduleLibrary: Sendable {
    /// Schedules that loaded cleanly, by name.
    public private(set) var schedules: [String: Schedule] = [:]
    /// Problems per file, for files that did not load.
    public private(set) var diagnostics: [Diagnostic] = []

    public init() {}

    /// Loads every `.yaml`/`.yml` file in the given files and folders; a folder that does not exist holds no schedules.
    public static func load(paths: [String]) -> ScheduleLibrary {
        var library = ScheduleLibrary()
        let existing = paths.filter { FileManager.default.fileExists(atPath: $0) }
        for file in RunbookLibrary.yamlFiles(in: existing) {
            library.add(file: file)
        }
        return library
    }

    /// The schedules, by name.
    public var sorted: [Schedule] {
        schedules.values.sorted { $0.name < $1.name }
    }

    private mutating func add(file: String) {
        let text: String
        do {
            text = try YAMLFile.read(file, unreadable: "cannot read the file: check that it exists and is readable")
        } catch {
            diagnostics += error.diagnostics
            return
        }
        let (schedule, problems) = ScheduleLoader.read(text: text, file: file)
        diagnostics += problems
        guard let schedule else { return }
        if let other = schedules[schedule.name] {
            diagnostics.append(Diagnostic(SourceLocation(file: file, line: 1, column: 1), "schedule name '\(schedule.name)' is already used by \(other.file): rename one of them"))
            return
        }
        schedules[schedule.name] = schedule
    }

    /// Problems of schedules whose runbook is in `runbooks`: parameters it does not take, values
    /// of the wrong type, required ones not given. A runbook that is not there is not a problem
    /// here: `runbook schedule list` shows it as missing.
    public func problems(against runbooks: RunbookLibrary) -> [Diagnostic] {
        sorted.compactMap { schedule -> Diagnostic? in
            guard let runbook = runbooks.runbooks[schedule.runbook] else { return nil }
            if let missing = runbook.params.first(where: { $0.isRequired && schedule.params[$0.name] == nil }) {
                return .reading(schedule.paramsLocation, "runbook '\(runbook.name)' needs parameter '\(missing.name)' (\(missing.type.example)): add it under params:")
            }
            do {
                _ = try ParamBinding.bind(schedule.params, to: runbook)
                return nil
            } catch {
                return .reading(schedule.paramsLocation, "\(error)")
            }
        }
    }
}
