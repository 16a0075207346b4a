import ArgumentParser
import Foundation
import RunbookFlows
import RunbookModel
import RunbookZMQ

/// `runbook fire`: puts a fire on the command queue, as the web app does.
struct FireCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fire", abstract: "Queue a fire for an EA on the engine's command queue and print its id.",
        discussion: "Exits 1 when no engine listens on the command queue."
    )

    @OptionGroup var global: GlobalOptions
    @Option(help: "The EA's target_uuid.") var target: String
    @Option(help: "The symbol, such as EURUSD.") var symbol: String
    @Option(help: "BUY or SELL.") var direction: String
    @Option(help: "Lot size.") var lot: Double
    @Option(help: "Stop loss price.") var sl: Double?
    @Option(help: "Take profit price.") var tp: Double?
    @Option(help: "The fire id (default: a new one).") var id: String?
    @Flag(help: "Print the fire as JSON.") var json = false

    func validate() throws {
        guard ["BUY", "SELL"].contains(direction.uppercased()) else { throw ValidationError("--direction must be BUY or SELL") }
        guard lot > 0 else { throw ValidationError("--lot must be more than 0") }
    }

    func run() async throws {
        let queue = try global.engineConfig().flows.commandQueue
        let fire = FlowMessage.Fire(
            id: id ?? "F-\(Int(Date().timeIntervalSince1970 * 1000))-\(Int.random(in: 1000...9999))", target: target, symbol: symbol.uppercased(),
            direction: direction.uppercased(), lot: lot, stopLoss: sl, takeProfit: tp
        )
        do {
            switch try ZMQOneShot.push(fire.json, to: FlowEndpoints.local(queue)) {
            case .sent: break
            case .noPeer:
                Console.error("error: no engine listens on \(queue): is `runbook up` running?")
                throw ExitStatus.failed.code
            case .notTaken:
                Console.error("error: the command queue \(queue) did not take the fire")
                throw ExitStatus.failed.code
            }
        } catch let error as ZMQError {
            Console.error("error: \(error)")
            throw ExitStatus.failed.code
        }
        if json { Console.out(fire.json) } else { Console.out(fire.id) }
    }
}
