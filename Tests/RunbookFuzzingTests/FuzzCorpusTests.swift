import Foundation
import RunbookFuzzing
import Testing

/// Every seed of the fuzzing corpus, and every crash libFuzzer ever found (kept beside the seeds
/// once fixed), runs through its target in each test run: an input that once stopped the engine
/// stays in the suite.
@Suite struct FuzzCorpusTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("FuzzCorpus")

    static func seeds(_ target: FuzzTarget) -> [URL] {
        let folder = corpus.appendingPathComponent(target.corpusFolder)
        let files = (try? FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil)) ?? []
        return files.sorted { $0.lastPathComponent < $1.lastPathComponent }
    }

    @Test(arguments: FuzzTarget.allCases)
    func seedsRunThroughTheirTarget(_ target: FuzzTarget) throws {
        let files = Self.seeds(target)
        #expect(files.count >= 2, "the corpus of \(target.rawValue) has \(files.count) seeds")
        for file in files {
            target.run([UInt8](try Data(contentsOf: file)))
        }
    }

    /// The seeds are what libFuzzer starts from: the wire format's frames are among them, so
    /// that it mutates real ticks rather than discovering JSON from nothing.
    @Test func theFrameSeedsHoldAcceptedAndRefusedTicks() throws {
        let verdicts = try Self.seeds(.frame).map { file in
            try [UInt8](Data(contentsOf: file)).withUnsafeBytes { FuzzTarget.acceptsTick($0) }
        }
        #expect(verdicts.contains(true))
        #expect(verdicts.contains(false))
    }
}
