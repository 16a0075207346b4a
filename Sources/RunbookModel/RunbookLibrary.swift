import Foundation

/// The runbooks of a folder, each validated, with the links between them checked.
public struct RunbookLibrary: Sendable {
    /// Runbooks that loaded cleanly, by name.
    public private(set) var runbooks: [String: Runbook] = [:]
    /// Problems per file, for files that did not load, and for links between runbooks.
    public private(set) var diagnostics: [Diagnostic] = []
    /// Every runbook that could be read, problems or not, by name: their links are checked too.
    private var readable: [String: Runbook] = [:]

    public init() {}

    /// Loads every `.yaml`/`.yml` file in the given files and folders.
    public static func load(paths: [String], loader: RunbookLoader) -> RunbookLibrary {
        var library = RunbookLibrary()
        for file in yamlFiles(in: paths) {
            library.add(file: file, loader: loader)
        }
        library.checkLinks()
        return library
    }

    /// The `.yaml` and `.yml` files of `paths`, folders expanded one level, sorted.
    public static func yamlFiles(in paths: [String]) -> [String] {
        var files: [String] = []
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                files.append(path)
                continue
            }
            if isDirectory.boolValue {
                let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
                files += names.filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted()
                    .map { (path as NSString).appendingPathComponent($0) }
            } else {
                files.append(path)
            }
        }
        return files
    }

    private mutating func add(file: String, loader: RunbookLoader) {
        let text: String
        do {
            text = try YAMLFile.read(file, unreadable: "cannot read the file: check that it exists and is readable")
        } catch {
            diagnostics += error.diagnostics
            return
        }
        let (runbook, problems) = loader.read(text: text, file: file)
        diagnostics += problems
        guard let runbook, !runbook.name.isEmpty else { return }
        if let other = readable[runbook.name] {
            diagnostics.append(Diagnostic(SourceLocation(file: file, line: 1, column: 1), "runbook name '\(runbook.name)' is already used by \(other.file): rename one of them"))
            return
        }
        readable[runbook.name] = runbook
        if problems.isEmpty { runbooks[runbook.name] = runbook }
    }

    /// Every `run` reference names a known runbook, and no runbook starts itself, directly or not.
    private mutating func checkLinks() {
        for runbook in readable.values.sorted(by: { $0.file < $1.file }) {
            for reference in runbook.referencedRunbooks {
                guard let target = readable[reference.name] else {
                    diagnostics.append(.reading(reference.location, "unknown runbook '\(reference.name)'\(Suggestion.hint(for: reference.name, in: readable.keys)); runbooks here: \(readable.keys.sorted().joined(separator: ", "))"))
                    continue
                }
                checkParams(of: target, passed: reference)
            }
            if let cycle = cycle(from: runbook.name) {
                let reference = runbook.referencedRunbooks.first { $0.name == cycle[1] }
                diagnostics.append(.reading(reference?.location ?? SourceLocation(file: runbook.file, line: 1, column: 1), "runbooks start each other in a cycle: \(cycle.joined(separator: " -> ")): break the cycle"))
            }
        }
    }

    /// A started runbook gets every parameter it needs and none it does not know.
    private mutating func checkParams(of target: Runbook, passed reference: RunbookReference) {
        let passed = reference.params ?? []
        let missing = target.params.filter { $0.isRequired && !passed.contains($0.name) }.map(\.name)
        if !missing.isEmpty {
            let what = reference.params == nil
                ? "a recovery runbook is started without parameters: give \(missing.joined(separator: ", ")) a default in '\(target.name)'"
                : "pass \(missing.joined(separator: ", ")) under params:"
            diagnostics.append(.reading(reference.location, "runbook '\(target.name)' needs parameter\(missing.count == 1 ? "" : "s") \(missing.joined(separator: ", ")): \(what)"))
        }
        let known = target.params.map(\.name)
        for name in passed where !known.contains(name) {
            diagnostics.append(.reading(reference.location, "runbook '\(target.name)' has no parameter '\(name)'\(Suggestion.hint(for: name, in: known)); it takes \(known.isEmpty ? "none" : known.joined(separator: ", "))"))
        }
    }

    /// A path from `name` back to itself, if there is one.
    private func cycle(from name: String) -> [String]? {
        var stack: [(String, [String])] = [(name, [name])]
        var visited: Set<String> = []
        while let (current, path) = stack.popLast() {
            for next in readable[current]?.referencedRunbooks.map(\.name) ?? [] {
                if next == name { return path + [next] }
                if visited.insert(next).inserted { stack.append((next, path + [next])) }
            }
        }
        return nil
    }

    /// No runbook has the name asked for: the name, and the closest names there are.
    public struct NotFound: Error, Sendable, CustomStringConvertible {
        public var name: String
        /// ` (did you mean 'x'?)`, or empty.
        public var hint: String
        public var description: String { "no runbook named '\(name)'\(hint); `runbook list` shows the runbooks" }
    }

    /// The runbook called `name`, with the problems of it and of every runbook it starts.
    public func resolve(_ name: String) throws -> Runbook {
        guard let runbook = readable[name] else {
            let named = diagnostics.filter { URL(fileURLWithPath: $0.location.file).deletingPathExtension().lastPathComponent == name }
            if !named.isEmpty { throw ValidationFailure(named) }
            let hint = Suggestion.hint(for: name, in: readable.keys)
            throw NotFound(name: name, hint: hint)
        }
        var involved: Set<String> = [runbook.file]
        var pending = [runbook]
        while let current = pending.popLast() {
            for reference in current.referencedRunbooks {
                if let next = readable[reference.name], involved.insert(next.file).inserted { pending.append(next) }
            }
        }
        let problems = diagnostics.filter { involved.contains($0.location.file) }
        if !problems.isEmpty { throw ValidationFailure(problems) }
        return runbook
    }
}
