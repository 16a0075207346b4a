import Foundation
import RunbookModel
import RunbookSteps

/// Packs tick history older than a time into compressed blocks.
public struct CompressStep: StepPrimitive {
    public static let spec = PrimitiveSpec(
        name: "compress",
        summary: "pack tick history older than a time into compressed blocks",
        inputs: [InputSpec("store", .string), InputSpec("older_than", .duration)],
        outputs: ["ticks", "blocks", "ratio", "bytes_per_tick"]
    )

    public var store: String
    public var olderThan: Duration

    public init(inputs: ResolvedInputs) throws(StepInputError) {
        store = inputs.string("store", default: "var/ticks.db")
        olderThan = try inputs.duration("older_than", default: .seconds(7 * 86_400))
    }

    static func cutoff(_ age: Duration) -> Int64 {
        Int64(Date().timeIntervalSince1970 * 1000) - age.milliseconds
    }

    public func describe() -> String {
        let now = FileManager.default.fileExists(atPath: store)
            ? (try? SQLiteTickStore(path: store).compressNow(olderThan: Self.cutoff(olderThan), dryRun: true)).map { " (now: \($0.ticks) ticks into \($0.blocks) blocks)" } ?? ""
            : " (no store there yet)"
        return "pack history older than \(DurationText.format(olderThan)) in \(store)\(now)"
    }

    public func run(in context: StepContext) async throws -> StepResult {
        let path = context.resolvePath(store)
        guard FileManager.default.fileExists(atPath: path) else { throw StepFailure("no tick store at \(path): check the store input") }
        let report = try await SQLiteTickStore(path: path).compress(olderThan: Self.cutoff(olderThan), dryRun: false)
        return StepResult(
            outputs: [
                "ticks": .number(Double(report.ticks)), "blocks": .number(Double(report.blocks)),
                "ratio": .number((report.ratio * 10).rounded() / 10), "bytes_per_tick": .number((report.bytesPerTick * 100).rounded() / 100),
            ],
            output: report.ticks == 0 ? "nothing older than \(DurationText.format(olderThan)) to pack"
                : String(format: "packed %d ticks into %d blocks: %.1fx smaller, %.2f bytes per tick", report.ticks, report.blocks, report.ratio, report.bytesPerTick)
        )
    }
}

/// Drops tick history, packed or not, older than a time; bars are kept.
public struct RetentionStep: StepPrimitive {
    public static let spec = PrimitiveSpec(
        name: "retention",
        summary: "drop tick history older than a time (bars are kept)",
        inputs: [InputSpec("store", .string), InputSpec("older_than", .duration, required: true)],
        outputs: ["ticks", "blocks"]
    )

    public var store: String
    public var olderThan: Duration

    public init(inputs: ResolvedInputs) throws(StepInputError) {
        store = inputs.string("store", default: "var/ticks.db")
        olderThan = try inputs.duration("older_than")
        guard olderThan > .seconds(86_400) else {
            throw StepInputError("older_than is \(DurationText.format(olderThan)): keep at least a day of ticks")
        }
    }

    public func describe() -> String {
        let now = FileManager.default.fileExists(atPath: store)
            ? (try? SQLiteTickStore(path: store).retainNow(olderThan: CompressStep.cutoff(olderThan), dryRun: true)).map { " (now: \($0.ticks) ticks, \($0.blocks) blocks)" } ?? ""
            : " (no store there yet)"
        return "drop history older than \(DurationText.format(olderThan)) from \(store), keeping bars\(now)"
    }

    public func run(in context: StepContext) async throws -> StepResult {
        let path = context.resolvePath(store)
        guard FileManager.default.fileExists(atPath: path) else { throw StepFailure("no tick store at \(path): check the store input") }
        let report = try await SQLiteTickStore(path: path).retain(olderThan: CompressStep.cutoff(olderThan), dryRun: false)
        return StepResult(
            outputs: ["ticks": .number(Double(report.ticks)), "blocks": .number(Double(report.blocks))],
            output: "dropped \(report.ticks) ticks older than \(DurationText.format(olderThan)) (\(report.blocks) blocks touched); bars kept"
        )
    }
}
