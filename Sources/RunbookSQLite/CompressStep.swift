import Foundation
import RunbookModel
import RunbookSteps
import RunbookStore

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
        store = inputs.string("store", default: "")
        olderThan = try inputs.duration("older_than", default: .seconds(7 * 86_400))
    }

    static func cutoff(_ age: Duration) -> Int64 {
        Int64(Date().timeIntervalSince1970 * 1000) - age.milliseconds
    }

    public func describe() -> String {
        guard !store.isEmpty else { return "pack history older than \(DurationText.format(olderThan)) in the engine's tick store" }
        let now = FileManager.default.fileExists(atPath: store)
            ? (try? SQLiteTickStore(path: store).compressNow(olderThan: Self.cutoff(olderThan), dryRun: true)).map { " (now: \($0.ticks) ticks into \($0.blocks) blocks)" } ?? ""
            : " (no store there yet)"
        return "pack history older than \(DurationText.format(olderThan)) in \(store)\(now)"
    }

    /// The store a step names (a SQLite file), or the engine's when it names none.
    static func tickStore(_ store: String, in context: StepContext) async throws -> (any TickStore, String) {
        guard store.isEmpty else {
            let path = context.resolvePath(store)
            guard FileManager.default.fileExists(atPath: path) else { throw StepFailure("no tick store at \(path): check the store input") }
            return (try SQLiteTickStore(path: path), path)
        }
        guard let access = context.services.ticks else {
            throw StepFailure("no tick store here: give the store input (a SQLite file), or run the step with the configuration that names the store")
        }
        do {
            return (try await access.store(), "\(access)")
        } catch {
            throw StepFailure("cannot open \(access): \(error)")
        }
    }

    public func run(in context: StepContext) async throws -> StepResult {
        let (ticks, _) = try await Self.tickStore(store, in: context)
        let report = try await ticks.compress(olderThan: Self.cutoff(olderThan), dryRun: false)
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
        store = inputs.string("store", default: "")
        olderThan = try inputs.duration("older_than")
        guard olderThan > .seconds(86_400) else {
            throw StepInputError("older_than is \(DurationText.format(olderThan)): keep at least a day of ticks")
        }
    }

    public func describe() -> String {
        guard !store.isEmpty else { return "drop history older than \(DurationText.format(olderThan)) from the engine's tick store, keeping bars" }
        let now = FileManager.default.fileExists(atPath: store)
            ? (try? SQLiteTickStore(path: store).retainNow(olderThan: CompressStep.cutoff(olderThan), dryRun: true)).map { " (now: \($0.ticks) ticks, \($0.blocks) blocks)" } ?? ""
            : " (no store there yet)"
        return "drop history older than \(DurationText.format(olderThan)) from \(store), keeping bars\(now)"
    }

    public func run(in context: StepContext) async throws -> StepResult {
        let (ticks, _) = try await CompressStep.tickStore(store, in: context)
        let report = try await ticks.retain(olderThan: CompressStep.cutoff(olderThan), dryRun: false)
        return StepResult(
            outputs: ["ticks": .number(Double(report.ticks)), "blocks": .number(Double(report.blocks))],
            output: "dropped \(report.ticks) ticks older than \(DurationText.format(olderThan)) (\(report.blocks) blocks touched); bars kept"
        )
    }
}
