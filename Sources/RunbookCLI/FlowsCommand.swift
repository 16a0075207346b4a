import ArgumentParser
import Foundation
import RunbookApp
import RunbookCore

/// `runbook flows`: each flow's and program's state and counters, from the running engine.
struct FlowsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flows", abstract: "Show the running engine's flows and programs with their counters.",
        discussion: "Exits 1 when no engine is running."
    )

    @OptionGroup var global: GlobalOptions
    @Flag(help: "Print the state as JSON.") var json = false

    func run() async throws {
        let assembly = Assembly(config: try global.engineConfig())
        guard let data = FileManager.default.contents(atPath: assembly.stateFile),
              let state = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let updated = (state["updated_at"] as? String).flatMap(ISO8601DateFormatter().date(from:)),
              Date().timeIntervalSince(updated) < 10
        else {
            Console.error("error: no running engine has written \(assembly.stateFile) lately: is `runbook up` running with this configuration?")
            throw ExitStatus.failed.code
        }
        if json {
            Console.json(state)
            return
        }
        let services = state["services"] as? [[String: Any]] ?? []
        let rows = services.map { service -> [String] in
            let malformed = (service["malformed"] as? [String: Int])?.values.reduce(0, +)
            let refused = (service["refused"] as? [String: Int])?.values.reduce(0, +) ?? ((service["kind"] as? String).flatMap(ServiceKind.init(rawValue:)) == .flow ? 0 : nil)
            return [
                service["name"] as? String ?? "?", service["kind"] as? String ?? "?", service["state"] as? String ?? "?",
                String(service["restarts"] as? Int ?? 0), (service["received"] as? Int).map(String.init) ?? "-",
                (service["sent"] as? Int).map(String.init) ?? "-", malformed.map(String.init) ?? "-", refused.map(String.init) ?? "-",
                service["last_message_at"] as? String ?? "-",
            ]
        }
        Table.print(header: ["SERVICE", "KIND", "STATE", "RESTARTS", "IN", "OUT", "MALFORMED", "REFUSED", "LAST MESSAGE"], rows: rows)
        for service in services {
            let name = service["name"] as? String ?? "?"
            if let error = service["last_error"] as? String { Console.out("\(name): last error: \(error)") }
            if let refused = service["refused"] as? [String: Int], !refused.isEmpty {
                Console.out("\(name): refused \(refused.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))")
            }
        }
        if let exposure = state["exposure"] as? String { Console.out("warning: \(exposure)") }
        if let records = state["flow_records"] as? [String: Int], let waiting = records["waiting"], waiting > 0 {
            Console.out("warning: \(waiting) flow record(s) wait in the spool: the records cannot be reached; they are written once they answer")
        }
    }
}
