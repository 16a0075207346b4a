import Foundation
import RunbookApp
import RunbookModel
import Testing

@Suite struct YAMLLimitTests {
    let loader = RunbookLoader(catalog: Catalog.steps)

    func scratch() throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("limits-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder
    }

    func problems(_ text: String) -> [Diagnostic] {
        loader.read(text: text, file: "runbook.yaml").1
    }

    /// The classic "billion laughs": nine levels of ten aliases stand for a billion nodes.
    static func laughs(levels: Int) -> String {
        var text = "l0: &l0 [ha, ha, ha, ha, ha, ha, ha, ha, ha, ha]\n"
        for level in 1..<levels {
            text += "l\(level): &l\(level) [" + Array(repeating: "*l\(level - 1)", count: 10).joined(separator: ", ") + "]\n"
        }
        return text
    }

    @Test func aFileOverTheSizeLimitIsRefusedUnread() throws {
        let folder = try scratch()
        defer { try? FileManager.default.removeItem(at: folder) }
        let step = "  - id: s\n    log: \"\(String(repeating: "x", count: 200))\"\n"
        let text = "name: big\nsteps:\n" + String(repeating: step, count: YAMLLimits.fileSize / step.utf8.count + 1)
        let file = folder.appendingPathComponent("big.yaml")
        try text.write(to: file, atomically: true, encoding: .utf8)
        let size = text.utf8.count
        #expect(size > YAMLLimits.fileSize)

        let library = RunbookLibrary.load(paths: [folder.path], loader: loader)
        #expect(library.diagnostics.map(\.description) == [
            "\(file.path):1:1: error: the file is \(size) bytes, over the limit of 1 MiB (1048576 bytes) for a YAML file, so it was not read: split it into smaller files"
        ])
        #expect(library.runbooks.isEmpty)
        #expect(throws: ValidationFailure.self) { try EngineConfig.load(path: file.path, environment: [:], channels: Catalog.channels) }
        #expect(ScheduleLibrary.load(paths: [file.path]).diagnostics.first?.message.hasPrefix("the file is \(size) bytes, over the limit") == true)
        #expect(throws: ValidationFailure.self) { try CheckLoader(probes: Catalog.probes).loadAll(paths: [file.path]) }
    }

    @Test func textOverTheSizeLimitIsRefusedUnparsed() {
        let text = "name: big\n# " + String(repeating: "x", count: YAMLLimits.fileSize) + "\n"
        let found = problems(text)
        #expect(found.count == 1)
        #expect(found.first?.message.hasPrefix("the file is \(text.utf8.count) bytes, over the limit of 1 MiB") == true)
    }

    @Test func manySmallStepsPastTheNodeLimitAreRefusedWhereCountingStopped() {
        // Each step is five nodes (the mapping, two keys, two values) after the root's five.
        let steps = (0..<25_000).map { "  - {id: s\($0), log: x}\n" }.joined()
        let text = "name: many\nsteps:\n" + steps
        #expect(text.utf8.count < YAMLLimits.fileSize)
        let found = problems(text)
        #expect(found.count == 1)
        // Node 100,001 is step 19,999's mapping: line 3 + 19,999, after "  - ".
        #expect(found.first?.location == SourceLocation(file: "runbook.yaml", line: 20_002, column: 5))
        #expect(found.first?.message.hasPrefix("the document has more than 100000 YAML nodes") == true)
        #expect(found.first?.message.hasSuffix("counting stopped here: split it into smaller files") == true)
    }

    @Test func anAliasBombIsRefusedAtTheAliasThatPassesTheLimit() {
        let found = problems(Self.laughs(levels: 9) + "name: x\nsteps:\n  - id: a\n    log: *l8\n")
        #expect(found.count == 1)
        #expect(found.first?.message.hasPrefix("the document has more than 100000 YAML nodes") == true)
        // The root and l0 to l3 with their keys are 12,349 nodes, l4's key and list 2 more; each of
        // its aliases stands for l3's 11,111, and the eighth passes 100,000: line 5, column 10 + 7 * 5.
        #expect(found.first?.location == SourceLocation(file: "runbook.yaml", line: 5, column: 45))
    }

    @Test func anAliasBombInAKeyIsRefusedBeforeItIsExpanded() {
        // Composed as written, hashing this key would walk the billion nodes *l8 stands for.
        let found = problems(Self.laughs(levels: 9) + "? *l8\n: 1\nname: x\nsteps:\n  - id: a\n    log: hi\n")
        #expect(found.count == 1)
        #expect(found.first?.description.hasPrefix("runbook.yaml:5:45: error: the document has more than 100000 YAML nodes") == true)
    }

    @Test func aliasesOfValuesWithinTheLimitStillWork() throws {
        let runbook = try loader.load(text: """
            name: shared
            params:
              target: &target {type: string, default: ea-01}
              other: *target
            steps:
              - id: a
                log: 'files *.log and a*b stay as written'
            """, file: "shared.yaml")
        #expect(runbook.params.map(\.name).sorted() == ["other", "target"])
        let found = problems("name: x\nsteps:\n  - id: a\n    log: *missing\n")
        #expect(found.first?.message.contains("undefined alias") == true)
    }

    @Test func anErrorShowsAtMostTheEchoLimitOfSourceText() throws {
        let long = String(repeating: "soon", count: 125_000)
        let found = problems("name: x\nsteps:\n  - id: a\n    wait: \(long)\n")
        let text = try #require(found.first?.description)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 3)
        #expect(lines[0].hasPrefix("runbook.yaml:4:11: error: '\(String(long.prefix(YAMLLimits.echo)))…' is not a duration"))
        #expect(lines[1] == "    wait: " + long.prefix(YAMLLimits.echo - 10) + "…")
        #expect(lines[2] == String(repeating: " ", count: 10) + "^")
        #expect(text.count < 600)
    }

    @Test func theCaretFollowsAColumnFarIntoALongLine() throws {
        let padding = String(repeating: "x", count: 1_000)
        let found = problems("name: x\nsteps: [{id: a, log: \(padding)}, {id: b, wiat: 1s}, {id: c, log: \(padding)}]\n")
        let misspelt = try #require(found.first { $0.message.hasPrefix("unknown key 'wiat'") })
        let lines = misspelt.description.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.count == 3)
        #expect(lines[1].hasPrefix("…") && lines[1].hasSuffix("…"))
        #expect(lines[1].count == YAMLLimits.echo + 2)
        let caret = lines[2].count - 1
        #expect(Array(lines[1])[caret...].starts(with: "wiat"))
    }
}
