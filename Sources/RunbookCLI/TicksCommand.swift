import ArgumentParser
import Foundation
import RunbookApp
import RunbookSQLite
import RunbookStore

/// Times on the command line: ISO 8601 (`2026-11-20T14:00:00Z`, `2026-11-20`) or milliseconds since 1970.
enum TimeArgument {
    static func parse(_ text: String) -> Int64? {
        if let milliseconds = Int64(text) { return milliseconds }
        let full = ISO8601DateFormatter()
        full.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let plain = ISO8601DateFormatter()
        let day = ISO8601DateFormatter()
        day.formatOptions = [.withFullDate]
        for formatter in [full, plain, day] {
            if let date = formatter.date(from: text) { return Int64(date.timeIntervalSince1970 * 1000) }
        }
        return nil
    }

    static func text(_ milliseconds: Int64) -> String {
        Timestamp.text(Date(timeIntervalSince1970: Double(milliseconds) / 1000))
    }
}

/// Output choices shared by `ticks` and `bars`.
struct TableFormat: ParsableArguments {
    @Flag(help: "Print JSON.") var json = false
    @Flag(help: "Print CSV with a header line.") var csv = false

    func validate() throws {
        if json && csv { throw ValidationError("choose one of --json and --csv") }
    }
}

struct TicksCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ticks", abstract: "Print stored ticks of a symbol, oldest first.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The symbol, such as EURUSD.") var symbol: String
    @Option(help: "From this time (ISO 8601 or ms since 1970), inclusive.") var from: String?
    @Option(help: "To this time, exclusive.") var to: String?
    @Option(help: "At most this many ticks.") var limit = 1000
    @OptionGroup var format: TableFormat

    func validate() throws {
        for (name, value) in [("--from", from), ("--to", to)] where value != nil && TimeArgument.parse(value!) == nil {
            throw ValidationError("\(name) '\(value!)' is not a time: write ISO 8601 (2026-11-20T14:00:00Z) or milliseconds since 1970")
        }
    }

    func run() async throws {
        let store = try await openTickStore(global)
        let ticks = try await store.ticks(symbol: symbol, from: from.flatMap(TimeArgument.parse), to: to.flatMap(TimeArgument.parse), limit: limit)
        if format.json {
            Console.json(["symbol": symbol, "ticks": ticks.map { ["time_msc": $0.timeMsc, "bid": $0.bid, "ask": $0.ask, "volume": $0.volume] as [String: Any] }])
        } else if format.csv {
            Console.out("time_msc,bid,ask,volume")
            ticks.forEach { Console.out("\($0.timeMsc),\($0.bid),\($0.ask),\($0.volume)") }
        } else {
            Table.print(header: ["TIME (UTC)", "BID", "ASK", "VOLUME"], rows: ticks.map { [TimeArgument.text($0.timeMsc), "\($0.bid)", "\($0.ask)", "\($0.volume)"] })
        }
    }
}

struct BarsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bars", abstract: "Print the bars of a symbol and timeframe (M1 ... MN), oldest first.")

    @OptionGroup var global: GlobalOptions
    @Argument(help: "The symbol, such as EURUSD.") var symbol: String
    @Argument(help: "M1, M5, M15, M30, H1, H4, D1, W1 or MN.") var timeframe: String
    @Option(help: "Bars opening from this time (ISO 8601 or ms since 1970), inclusive.") var from: String?
    @Option(help: "Bars opening before this time.") var to: String?
    @OptionGroup var format: TableFormat

    func validate() throws {
        guard Timeframe(rawValue: timeframe.uppercased()) != nil else {
            throw ValidationError("timeframe '\(timeframe)' is not one of \(Timeframe.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        for (name, value) in [("--from", from), ("--to", to)] where value != nil && TimeArgument.parse(value!) == nil {
            throw ValidationError("\(name) '\(value!)' is not a time: write ISO 8601 (2026-11-20T14:00:00Z) or milliseconds since 1970")
        }
    }

    func run() async throws {
        let store = try await openTickStore(global)
        let bars = try await store.bars(symbol: symbol, timeframe: Timeframe(rawValue: timeframe.uppercased())!, from: from.flatMap(TimeArgument.parse), to: to.flatMap(TimeArgument.parse))
        if format.json {
            Console.json(["symbol": symbol, "timeframe": timeframe.uppercased(), "bars": bars.map {
                ["open_time": $0.openTime, "open": $0.open, "high": $0.high, "low": $0.low, "close": $0.close, "ticks": $0.ticks, "spread": $0.spread] as [String: Any]
            }])
        } else if format.csv {
            Console.out("open_time,open,high,low,close,ticks,spread")
            bars.forEach { Console.out("\($0.openTime),\($0.open),\($0.high),\($0.low),\($0.close),\($0.ticks),\($0.spread)") }
        } else {
            Table.print(header: ["OPEN (UTC)", "OPEN", "HIGH", "LOW", "CLOSE", "TICKS", "SPREAD"], rows: bars.map {
                [TimeArgument.text($0.openTime), "\($0.open)", "\($0.high)", "\($0.low)", "\($0.close)", "\($0.ticks)", "\($0.spread)"]
            })
        }
    }
}

struct StoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "store", abstract: "The tick store.", subcommands: [Stats.self, Migrate.self])

    struct Stats: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "stats", abstract: "Rows, bars, size, bytes per tick and spool depth.")

        @OptionGroup var global: GlobalOptions
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let assembly = Assembly(config: try global.engineConfig())
            let store = try await openTickStore(global)
            var stats = try await store.stats()
            stats["spool_bytes"] = try TickSpool(path: assembly.spoolPath).bytes
            stats["spool_batches"] = try TickSpool(path: assembly.spoolPath).batches().count
            let rows = (stats["history_rows"] ?? 0) + (stats["packed_ticks"] ?? 0)
            let bytes = stats["file_bytes"] ?? stats["database_bytes"] ?? 0
            if json {
                var object: [String: Any] = stats
                object["bytes_per_tick"] = rows > 0 ? Double(bytes) / Double(rows) : 0
                Console.json(object)
                return
            }
            for key in stats.keys.sorted() { Console.out("\(key.padding(toLength: 16, withPad: " ", startingAt: 0)) \(stats[key]!)") }
            if rows > 0 { Console.out(String(format: "bytes_per_tick   %.1f", Double(bytes) / Double(rows))) }
        }
    }
}

/// The tick store of the configuration; exits 1 when it cannot be opened, or is the embedded one
/// and there is none yet.
func openTickStore(_ global: GlobalOptions) async throws -> any TickStore {
    let assembly = Assembly(config: try global.engineConfig())
    do {
        guard let store = try await assembly.openTickStore(mustExist: true) else {
            Console.error("error: no tick store at \(assembly.tickStorePath): ticks are stored while `runbook up` runs")
            throw ExitStatus.failed.code
        }
        return store
    } catch let error as AssemblyError {
        Console.error("error: \(error)")
        throw ExitStatus.failed.code
    }
}
