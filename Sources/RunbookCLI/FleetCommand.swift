import ArgumentParser
import Foundation
import RunbookApp
import RunbookCore

/// `runbook fleet`: the engines sharing the records, which one leads, and when each last beat.
struct FleetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fleet", abstract: "List the engines sharing the records: leader or standby, last heartbeat, flows up, version."
    )

    @OptionGroup var global: GlobalOptions

    @Flag(help: "Print the engines as JSON.")
    var json = false

    func run() async throws {
        let assembly = Assembly(config: try global.engineConfig())
        let records = try await assembly.records()
        defer { records.close() }
        guard let fleet = records.fleet else {
            Console.error("error: the records are SQLite (\(assembly.config.databasePath)), which one engine keeps alone; engines form a fleet on shared PostgreSQL records (records: {backend: postgresql})")
            throw ExitStatus.usage.code
        }
        let members = try await fleet.members()
        let ttl = assembly.config.engine.leaseTTL.seconds
        if json {
            Console.json(["engines": members.map { member -> [String: Any] in
                [
                    "name": member.beat.name, "role": member.role, "term": member.term as Any? ?? NSNull(), "host": member.beat.host, "pid": member.beat.pid,
                    "version": member.beat.version, "started_at": Timestamp.text(member.beat.startedAt), "last_beat": Timestamp.text(member.lastBeat),
                    "silent_for_seconds": member.silentFor, "flows_up": member.beat.flowsUp, "flows_total": member.beat.flowsTotal,
                    "alive": member.silentFor <= ttl,
                ]
            }])
            return
        }
        guard !members.isEmpty else {
            Console.out("no engine has beaten in \(assembly.recordsDescription) yet: `runbook up` joins the fleet")
            return
        }
        let rows = members.map { member in
            [
                member.beat.name, member.role, member.beat.host,
                Elapsed.text(milliseconds: member.silentFor * 1000) + " ago" + (member.silentFor > ttl ? " (silent)" : ""),
                "\(member.beat.flowsUp)/\(member.beat.flowsTotal)", member.beat.version,
            ]
        }
        Table.print(header: ["ENGINE", "ROLE", "HOST", "LAST HEARTBEAT", "FLOWS UP", "VERSION"], rows: rows)
        if !members.contains(where: \.leading) {
            Console.out("no engine leads now: the schedule, the outbox and incident climbs wait for one (a standby takes the lease within engine.lease_ttl)")
        }
    }
}
