import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import GRDB
import RunbookTestSupport
import Testing

/// `runbook keys`, `flows.security` in `runbook up`, and the warning while flows accept anyone.
@Suite(.serialized) struct FlowSecurityTests {
    /// The pyzmq peer of the flows' tests, as an EA holding a key.
    static let peer = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("RunbookFlowsTests/Peers/flow_peer.py").path

    static func json(_ url: String) async -> [String: Any]? {
        guard let url = URL(string: url), let (data, _) = try? await URLSession.shared.data(from: url) else { return nil }
        return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
    }

    static func key(_ cli: CLIHarness, _ file: String) throws -> String {
        try String(contentsOfFile: cli.path(file), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test func keysWritesASecretOnlyItsOwnerReadsAndWillNotOverwriteIt() throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        let made = try cli.run("keys", "--dir", "keys")
        #expect(made.status == 0, "\(made.stderr)")
        let publicKey = try Self.key(cli, "keys/server.pub")
        #expect(made.stdout.hasPrefix(publicKey + "\n") && publicKey.count == 40)
        let secret = try Self.key(cli, "keys/server.key")
        #expect(secret.count == 40 && secret != publicKey && !made.stdout.contains(secret))
        let mode = try FileManager.default.attributesOfItem(atPath: cli.path("keys/server.key"))[.posixPermissions] as? Int
        #expect(mode == 0o600)

        let again = try cli.run("keys", "--dir", "keys")
        #expect(again.status == 1 && again.stderr.contains("--force"))
        #expect(try Self.key(cli, "keys/server.key") == secret)
        #expect(try cli.run("keys", "--dir", "keys", "--force").status == 0)
        #expect(try Self.key(cli, "keys/server.key") != secret)
        #expect(try cli.run("keys", "../escape").status == 2)
    }

    @Test func flowsBoundToAllAddressesWithoutSecurityAreAWarningEverywhere() async throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        let ports = EnginePorts()
        try cli.write("runbook.yaml", ports.config(queue: cli.path("queue.ipc")).replacingOccurrences(of: "router: tcp://127.0.0.1:", with: "router: tcp://0.0.0.0:"))
        let engine = try cli.start(["up", "--log-format", "text"])
        #expect(await eventually { FileManager.default.fileExists(atPath: cli.path("var/engine-state.json")) })
        // The HTTP server starts after the state file is written.
        #expect(await eventually { await Self.json("http://127.0.0.1:\(ports.http)/health/detailed") != nil })

        let detailed = await Self.json("http://127.0.0.1:\(ports.http)/health/detailed")
        #expect(detailed?["status"] as? String == "warning")
        let problems = detailed?["problems"] as? [String] ?? []
        #expect(problems.contains { $0.contains("accept anyone") && $0.contains("router tcp://0.0.0.0:\(ports.router)") })
        let dashboard = await Self.json("http://127.0.0.1:\(ports.http)/api/dashboard")
        #expect((dashboard?["overview"] as? [String: Any])?["exposure"] as? String == problems.first { $0.contains("accept anyone") })
        let flows = try cli.run("flows")
        #expect(flows.stdout.contains("warning: flows bound beyond loopback accept anyone"))

        kill(engine.0.processIdentifier, SIGTERM)
        let stopped = try cli.finish(engine)
        #expect(stopped.stderr.contains("accept anyone (neither CURVE nor an allowlist): router tcp://0.0.0.0:\(ports.router)"))
    }

    @Test func withCurveAnEAWithItsKeyTakesItsFiresAndStrangersAreCounted() async throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        let ports = EnginePorts()
        #expect(try cli.run("keys", "--dir", "keys").status == 0)
        #expect(try cli.run("keys", "host-1", "--dir", "keys").status == 0)
        #expect(try cli.run("keys", "stranger", "--dir", "keys").status == 0)
        let security = """
              security:
                curve:
                  secret_key_file: keys/server.key
                  clients:
                    - {name: host-1, public_key: "\(try Self.key(cli, "keys/host-1.pub"))", routing_ids: [ea-01]}
                allow: [127.0.0.0/8]

            """
        let config = ports.config(queue: cli.path("queue.ipc")).replacingOccurrences(of: "tcp://127.0.0.1:", with: "tcp://0.0.0.0:")
        try cli.write("runbook.yaml", config.replacingOccurrences(of: "flows:\n", with: "flows:\n" + security))
        let engine = try cli.start(["up", "--log-format", "text"])
        defer { kill(engine.0.processIdentifier, SIGKILL) }
        #expect(await eventually { FileManager.default.fileExists(atPath: cli.path("var/engine-state.json")) })

        func ea(_ name: String, id: String) throws -> Process {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
            process.arguments = [
                Self.peer, cli.path("\(name).jsonl"), "dealer", "tcp://127.0.0.1:\(ports.router)", "--id", id, "--probe-router",
                // One argument each: a Z85 key may start with "-", which argparse would take for an option.
                "--server-key=\(try Self.key(cli, "keys/server.pub"))", "--public=\(try Self.key(cli, "keys/\(name).pub"))",
                "--secret=\(try Self.key(cli, "keys/\(name).key"))",
            ]
            try process.run()
            return process
        }
        let host = try ea("host-1", id: "ea-01")
        let stranger = try ea("stranger", id: "ea-01")
        defer { [host, stranger].forEach { kill($0.processIdentifier, SIGKILL) } }
        func refused() throws -> [String: Int] {
            let services = try cli.run("flows", "--json").json["services"] as? [[String: Any]] ?? []
            return services.first { $0["name"] as? String == "command-router" }?["refused"] as? [String: Int] ?? [:]
        }
        #expect(
            await eventually { (try? refused())?["unknown_key"] ?? 0 >= 1 },
            "the stranger saw: \((try? String(contentsOfFile: cli.path("stranger.jsonl"), encoding: .utf8)) ?? "nothing"); the engine said: \((try? String(contentsOf: engine.2, encoding: .utf8)) ?? "")"
        )
        #expect(
            await eventually { ((try? String(contentsOfFile: cli.path("host-1.jsonl"), encoding: .utf8)) ?? "").contains("handshake_succeeded") },
            "host-1 saw: \((try? String(contentsOfFile: cli.path("host-1.jsonl"), encoding: .utf8)) ?? "nothing"); the engine said: \((try? String(contentsOf: engine.2, encoding: .utf8)) ?? "")"
        )

        #expect(await eventually {
            let fired = try? cli.run("fire", "--target", "ea-01", "--symbol", "EURUSD", "--direction", "SELL", "--lot", "5", "--id", "F-\(UUID().uuidString)")
            return fired?.status == 0 && ((try? String(contentsOfFile: cli.path("host-1.jsonl"), encoding: .utf8)) ?? "").contains("\\\"lot\\\":5")
        })
        #expect(!(((try? String(contentsOfFile: cli.path("stranger.jsonl"), encoding: .utf8)) ?? "").contains("received")))
        let detailed = await Self.json("http://127.0.0.1:\(ports.http)/health/detailed")
        #expect(!((detailed?["problems"] as? [String]) ?? []).contains { $0.contains("accept anyone") })
    }

    @Test func aSecretKeyFileOthersMayReadStopsTheStart() throws {
        let cli = try CLIHarness()
        defer { cli.remove() }
        let ports = EnginePorts()
        #expect(try cli.run("keys", "--dir", "keys").status == 0)
        chmod(cli.path("keys/server.key"), 0o644)
        let security = "  security: {curve: {secret_key_file: keys/server.key, clients: []}}\n"
        try cli.write("runbook.yaml", ports.config(queue: cli.path("queue.ipc")).replacingOccurrences(of: "flows:\n", with: "flows:\n" + security))
        let result = try cli.finish(try cli.start(["up"]))
        #expect(result.status == 1)
        #expect(result.stderr.contains("may be read by others (mode 644): chmod 600"))
    }
}
