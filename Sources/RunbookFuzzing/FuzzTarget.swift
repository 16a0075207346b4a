import Foundation
import RunbookChecks
import RunbookCurl
import RunbookEscalation
import RunbookFlows
import RunbookModel
import RunbookSteps
import RunbookStore

/// The input paths fuzzed by `runbook-fuzz` (libFuzzer) and replayed from the seed corpus by the
/// test suite. Each takes any bytes and checks what must hold whatever they are: nothing traps,
/// and what is accepted is what the format promises (a relayed tick is valid JSON within
/// `TickLimits`, a diagnostic names a place in the file and echoes a bounded line, a spool or a
/// packed block gives back exactly what was written). A broken promise stops the process with
/// `preconditionFailure`, which libFuzzer reports as a crash and keeps the input of.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// A frame arriving on the telemetry bridge (PULL 5556): the fixed walk and the decoder.
    case frame
    /// A frame on any flow: signals, fires, confirmations, closes, heartbeats.
    case message
    /// A runbook file, through the loader and the steps' argument decoders.
    case runbook
    /// A check file.
    case check
    /// A schedule file.
    case schedule
    /// `runbook.yaml`.
    case config
    /// A `when:` or `outputs:` expression, parsed and evaluated.
    case expression
    /// A cron field set.
    case cron
    /// The spool file a store outage leaves, as a crash may have cut it.
    case spool
    /// A journal segment, as a crash or a damaged disk may have left it.
    case journal
    /// A packed block of ticks read back from the store.
    case block

    /// The folder of seeds for this target, below `Tests/FuzzCorpus`.
    public var corpusFolder: String { rawValue }

    public func run(_ data: UnsafeRawBufferPointer) {
        switch self {
        case .frame: Self.frame(data)
        case .message: _ = FlowMessage.result(of: data)
        case .runbook: Self.yaml(data) { text in RunbookLoader(catalog: Self.steps).read(text: text, file: "fuzz.yaml").1 }
        case .check: Self.yaml(data) { text in Self.diagnostics { () throws(ValidationFailure) in _ = try CheckLoader(probes: ProbeRegistry.core).load(text: text, file: "fuzz.yaml") } }
        case .schedule: Self.yaml(data) { text in ScheduleLoader.read(text: text, file: "fuzz.yaml").1 }
        case .config: Self.yaml(data) { text in Self.diagnostics { () throws(ValidationFailure) in _ = try EngineConfig.load(text: text, file: "/fuzz/runbook.yaml", channels: ChannelRegistry.curl) } }
        case .expression: Self.expression(data)
        case .cron: _ = try? CronExpression.parse(String(decoding: data, as: UTF8.self))
        case .spool: Self.spool(data)
        case .journal: Self.journal(data)
        case .block: Self.block(data)
        }
    }

    public func run(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { run($0) }
    }

    /// Every step primitive that needs no adapter: the loader's own grammar is the same for all.
    static let steps = StepRegistry.core.merging(.checks)

    /// Whether the bridge would relay this frame as a tick.
    public static func acceptsTick(_ data: UnsafeRawBufferPointer) -> Bool {
        FrameScanner.tick(data) != nil
    }

    /// A frame the bridge would relay must be valid JSON, an object of type "tick", with the
    /// values the scanner read, all within the limits.
    static func frame(_ data: UnsafeRawBufferPointer) {
        guard let values = FrameScanner.tick(data) else { return }
        guard TickLimits.problem(symbol: values.symbol.utf8.count, bid: values.bid, ask: values.ask, timeMsc: Double(values.timeMsc), volume: values.volume) == nil else {
            preconditionFailure("a tick outside the limits was accepted: \(values)")
        }
        guard let object = try? JSONSerialization.jsonObject(with: Data(data)) as? [String: Any] else {
            preconditionFailure("a frame that is not a JSON object was accepted as a tick")
        }
        // Foundation reads a number of many digits as a decimal (up to 38 digits) whose own
        // double is not correctly rounded: its digits are read again with strtod, as the scanner
        // reads them, and equal within a few ulps (for digits past the 38th).
        func same(_ key: String, _ value: Double) -> Bool {
            guard let json = (object[key] as? NSNumber).flatMap({ Double($0.description) }) else { return false }
            return json == value || abs(json - value) <= 4 * max(json.ulp, value.ulp)
        }
        guard object["type"] as? String == "tick", object["symbol"] as? String == values.symbol, same("bid", values.bid), same("ask", values.ask),
              same("time_msc", Double(values.timeMsc))
        else { preconditionFailure("the scanner read other values than the JSON holds: \(values) against \(object)") }
    }

    static func diagnostics(_ body: () throws(ValidationFailure) -> Void) -> [Diagnostic] {
        do { try body(); return [] } catch { return error.diagnostics }
    }

    /// A YAML file, however broken, gives diagnostics that name a line and column within it and
    /// echo at most a bounded part of a line.
    static func yaml(_ data: UnsafeRawBufferPointer, _ read: (String) -> [Diagnostic]) {
        let text = String(decoding: data, as: UTF8.self)
        let lines = Diagnostic.sourceLines(of: text).count
        for diagnostic in read(text) {
            let location = diagnostic.location
            guard location.line >= 1, location.line <= lines + 1, location.column >= 1 else {
                preconditionFailure("a diagnostic names \(location.line):\(location.column) in a file of \(lines) lines: \(diagnostic.message)")
            }
            // The excerpt of the line is at most `echo` characters and a cut mark on each side;
            // a message quotes at most `echo` characters of a value.
            // (A message may hold a line break, quoting a key that has one: the echo follows it.)
            let head = "\(location): error: \(diagnostic.message)"
            let shown = diagnostic.description.dropFirst(head.count).split(separator: "\n", omittingEmptySubsequences: false)
            if shown.count > 1, shown[1].count > YAMLLimits.echo + 2 {
                preconditionFailure("a diagnostic echoes \(shown[1].count) characters of its line")
            }
            if diagnostic.message.count > 4 * YAMLLimits.echo + 600 {
                preconditionFailure("a diagnostic's message is \(diagnostic.message.count) characters: \(diagnostic.message.prefix(300))")
            }
        }
    }

    /// Parses an expression and evaluates it with every reference bound to a value taken from the
    /// input, so that arithmetic and comparison on strange values run too.
    static func expression(_ data: UnsafeRawBufferPointer) {
        let text = String(decoding: data, as: UTF8.self)
        guard let expression = try? ExpressionParser.parse(text) else { return }
        let values: [Value] = [.null, .bool(true), .number(.nan), .number(.infinity), .number(-0.0), .number(1e308), .string(text), .duration(.seconds(Int64.max)), .list([]), .map([:])]
        // The same reference always gets the same value, in every process, so that a crash replays.
        let evaluator = ExpressionEvaluator { reference in values[reference.description.utf8.reduce(0) { ($0 &* 31 &+ Int($1)) & 0xFFFF } % values.count] }
        _ = try? evaluator.evaluate(expression)
    }

    static func scratch(_ name: String) -> String {
        let folder = (NSTemporaryDirectory() as NSString).appendingPathComponent("runbook-fuzz-\(getpid())")
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        return (folder as NSString).appendingPathComponent(name)
    }

    /// A spool file of any content opens (cut back to its whole records), and a batch appended to
    /// it comes back byte for byte after what was there.
    static func spool(_ data: UnsafeRawBufferPointer) {
        let path = scratch("ticks.spool")
        _ = unlink(path)
        _ = unlink(path + ".rewrite")
        _ = FileManager.default.createFile(atPath: path, contents: Data(data))
        guard let spool = try? TickSpool(path: path) else { return }
        let before = spool.batches()
        let batch = TickBatch(id: 7, ticks: [Tick(symbol: "EURUSD", timeMsc: 1_700_000_000_000, bid: 1.1, ask: 1.1002, volume: 0)])
        guard (try? spool.append(batch)) != nil else { return }
        let after = spool.batches()
        // Bit for bit: a damaged spool may hold NaNs, which no == finds equal.
        func bits(_ batches: [TickBatch]) -> [String] {
            batches.map { batch in
                "\(batch.id):" + batch.ticks.map { "\(Array($0.symbol.utf8)),\($0.timeMsc),\($0.bid.bitPattern),\($0.ask.bitPattern),\($0.volume.bitPattern)" }.joined(separator: ";")
            }
        }
        guard bits(after) == bits(before + [batch]) else { preconditionFailure("a spool gave back \(after.count) batches after \(before.count) and one appended") }
    }

    /// A journal segment of any content is read without trapping.
    static func journal(_ data: UnsafeRawBufferPointer) {
        let folder = scratch("journal")
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let path = (folder as NSString).appendingPathComponent("ticks-1.journal")
        _ = FileManager.default.createFile(atPath: path, contents: Data(data))
        _ = TickJournal.read(directory: folder)
    }

    /// A packed block of any content decodes or is refused; what decodes packs back to ticks
    /// that decode the same.
    static func block(_ data: UnsafeRawBufferPointer) {
        guard let ticks = try? TickCodec.decode(Array(data), symbol: "EURUSD") else { return }
        guard let packed = try? TickCodec.encode(ticks) else { return }
        guard let again = try? TickCodec.decode(packed, symbol: "EURUSD"), again.count == ticks.count else {
            preconditionFailure("\(ticks.count) ticks decoded from a block do not survive packing again")
        }
    }
}
