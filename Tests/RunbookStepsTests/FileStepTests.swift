import Foundation
import RunbookModel
import RunbookSteps
import Testing

@Suite struct ArchiveStepTests {
    @Test func archivesExactlyTheChosenFilesAndTheArchiveRestoresThem() async throws {
        let harness = try StepHarness()
        defer { harness.remove() }
        try harness.file("tracking/old.jsonl", bytes: 5000, age: 10 * day)
        try harness.file("tracking/big.jsonl", bytes: 300_000, age: 60)
        try harness.file("tracking/fresh.jsonl", bytes: 5000, age: 60)
        try harness.file("tracking/old.txt", bytes: 10, age: 30 * day)
        let originals = try ["old.jsonl", "big.jsonl"].map { try Data(contentsOf: URL(fileURLWithPath: harness.path("tracking/\($0)"))) }

        let archive = try harness.primitive("archive", """
            from: tracking
            patterns: ["*.jsonl"]
            older_than: 7d
            larger_than: 100KB
            to: archive
            prefix: tracking
            """)
        let result = try await archive.run(in: harness.context())
        #expect(result.outputs["files"] == .number(2))
        #expect(result.outputs["bytes"] == .number(305_000))
        #expect(!harness.exists("tracking/old.jsonl") && !harness.exists("tracking/big.jsonl"))
        #expect(harness.exists("tracking/fresh.jsonl") && harness.exists("tracking/old.txt"))

        let path = result.outputs["archive"]!.text
        #expect(path.hasPrefix(harness.path("archive/tracking-")) && path.hasSuffix(".tar.gz"))
        let restored = harness.path("restored")
        try FileManager.default.createDirectory(atPath: restored, withIntermediateDirectories: true)
        let tar = Process()
        tar.executableURL = URL(fileURLWithPath: "/bin/tar")
        tar.arguments = ["-xzf", path, "-C", restored]
        try tar.run()
        tar.waitUntilExit()
        #expect(try FileManager.default.contentsOfDirectory(atPath: restored).sorted() == ["big.jsonl", "old.jsonl"])
        #expect(try Data(contentsOf: URL(fileURLWithPath: restored + "/old.jsonl")) == originals[0])
        #expect(try Data(contentsOf: URL(fileURLWithPath: restored + "/big.jsonl")) == originals[1])
    }

    @Test func nothingToArchiveIsNotAFailure() async throws {
        let harness = try StepHarness()
        defer { harness.remove() }
        try harness.file("tracking/fresh.jsonl", age: 60)
        let result = try await harness.primitive("archive", "from: tracking\nolder_than: 7d\nto: archive").run(in: harness.context())
        #expect(result.outputs["files"] == .number(0))
        #expect(!harness.exists("archive"))
    }

    @Test func aMissingFolderSaysWhichOne() async throws {
        let harness = try StepHarness()
        defer { harness.remove() }
        let failure = await #expect(throws: StepFailure.self) {
            try await harness.primitive("archive", "from: nowhere\nto: archive").run(in: harness.context())
        }
        #expect(failure?.message.contains("cannot list \(harness.path("nowhere"))") == true)
    }

    @Test func dryRunDescriptionCountsWithoutTouching() throws {
        let harness = try StepHarness()
        defer { harness.remove() }
        try harness.file("t/old.jsonl", bytes: 10, age: 10 * day)
        let archive = try harness.primitive("archive", "from: \(harness.path("t"))\nolder_than: 7d\nto: \(harness.path("a"))")
        #expect(archive.describe().contains("now: 1 file(s), 10 bytes"))
        #expect(harness.exists("t/old.jsonl") && !harness.exists("a"))
    }
}

@Suite struct PruneStepTests {
    @Test func deletesFilesPastTheirAge() async throws {
        let harness = try StepHarness()
        defer { harness.remove() }
        try harness.file("logs/a.log", age: 20 * day)
        try harness.file("logs/b.log.1", age: 15 * day)
        try harness.file("logs/c.log", age: 1 * day)
        try harness.file("logs/keep.db", age: 30 * day)
        let result = try await harness.primitive("prune", "path: logs\npatterns: ['*.log', '*.log.*']\nolder_than: 14d").run(in: harness.context())
        #expect(result.outputs["deleted"] == .number(2))
        #expect(try FileManager.default.contentsOfDirectory(atPath: harness.path("logs")).sorted() == ["c.log", "keep.db"])
    }

    @Test func keepsTheNewestN() async throws {
        let harness = try StepHarness()
        defer { harness.remove() }
        for (index, name) in ["1.bak", "2.bak", "3.bak", "4.bak"].enumerated() { try harness.file("b/\(name)", age: Double(10 - index) * 3600) }
        _ = try await harness.primitive("prune", "path: b\nkeep_last: 2").run(in: harness.context())
        #expect(try FileManager.default.contentsOfDirectory(atPath: harness.path("b")).sorted() == ["3.bak", "4.bak"])
    }

    @Test func refusesToPruneWithoutARule() throws {
        let harness = try StepHarness()
        defer { harness.remove() }
        #expect(throws: StepInputError.self) { try PruneStep(inputs: ResolvedInputs(values: ["path": .string("b")])) }
        let validation = #expect(throws: ValidationFailure.self) { try harness.primitive("prune", "path: b") }
        #expect(validation?.description.contains("prune needs older_than, keep_last or both") == true)
    }
}
