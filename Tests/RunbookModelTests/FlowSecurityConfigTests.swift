import Foundation
import RunbookApp
import RunbookModel
import Testing

@Suite struct FlowSecurityConfigTests {
    static let eaKey = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
    static let signalKey = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID"

    func load(_ text: String) throws(ValidationFailure) -> EngineConfig {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("security-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("runbook.yaml")
        try? text.write(to: file, atomically: true, encoding: .utf8)
        return try EngineConfig.load(path: file.path, environment: [:], channels: Catalog.channels)
    }

    @Test func curveClientsAndTheAllowlistAreRead() throws {
        let config = try load("""
            flows:
              router: tcp://*:5555
              security:
                curve:
                  secret_key_file: keys/server.key
                  clients:
                    - {name: mt5-host-1, public_key: "\(Self.eaKey)", routing_ids: [ea-01, ea-02]}
                    - {name: signal-engine, public_key: "\(Self.signalKey)"}
                allow: [10.0.0.0/8, 192.168.1.20, "fd00::/8"]
            """)
        let security = config.flows.security
        #expect(security.secretKeyFile?.hasSuffix("/keys/server.key") == true)
        #expect(security.clients == [
            FlowSecurity.Client(name: "mt5-host-1", publicKey: Self.eaKey, routingIDs: ["ea-01", "ea-02"]),
            FlowSecurity.Client(name: "signal-engine", publicKey: Self.signalKey),
        ])
        #expect(security.allow.map(\.description) == ["10.0.0.0/8", "192.168.1.20/32", "fd00::/8"])
        #expect(config.flows.exposureWarning == nil)
    }

    @Test func mistakesAreReportedWithTheirLineAndASecretKeyWrittenInTheFileIsNotShown() {
        let failure = #expect(throws: ValidationFailure.self) {
            try load("""
                flows:
                  security:
                    curve:
                      secret_key: "\(Self.signalKey)"
                      clients:
                        - {name: a, public_key: not-a-key}
                        - {name: b, public_key: "\(Self.eaKey)", routing_ids: ea-01}
                        - {name: c, public_key: "\(Self.eaKey)"}
                    allow: [10.0.0.0/33, example.com]
                """)
        }
        let diagnostics = failure?.diagnostics ?? []
        let lines = diagnostics.map(\.location.line)
        #expect(lines.contains(4) && lines.contains(6) && lines.contains(7) && lines.contains(8) && lines.contains(9))
        #expect(diagnostics.contains { $0.message.contains("secret_key_file") && $0.location.line == 4 })
        #expect(diagnostics.contains { $0.message.contains("public_key of 'a' is not a CURVE public key") })
        #expect(diagnostics.contains { $0.message.contains("routing_ids must be a list") })
        #expect(diagnostics.contains { $0.message.contains("'c' has the same public key as 'b'") })
        #expect(diagnostics.contains { $0.message.contains("'10.0.0.0/33' is not an address or CIDR block") })
        #expect(diagnostics.contains { $0.message.contains("needs secret_key_file") })
        #expect(!diagnostics.contains { $0.description.contains(Self.signalKey) })
    }

    @Test func flowsBoundBeyondLoopbackWithoutSecurityAreNamed() throws {
        let open = try load("flows: {router: tcp://0.0.0.0:5555, telemetry_in: tcp://127.0.0.1:5556, telemetry_out: tcp://lo:5560, confirmations: tcp://10.1.2.3:5558}")
        #expect(open.flows.openToAnyone == ["router tcp://0.0.0.0:5555", "confirmations tcp://10.1.2.3:5558"])
        #expect(open.flows.exposureWarning?.contains("router tcp://0.0.0.0:5555, confirmations tcp://10.1.2.3:5558") == true)
        #expect(EngineConfig().flows.openToAnyone.count == 4)
        let allowed = try load("flows: {router: tcp://0.0.0.0:5555, security: {allow: [10.0.0.0/8]}}")
        #expect(allowed.flows.exposureWarning == nil)
    }

    @Test func addressRangesMatchAsLibzmqReportsPeers() throws {
        let block = try #require(AddressRange("10.1.0.0/16"))
        #expect(block.contains("10.1.200.3"))
        #expect(!block.contains("10.2.0.1"))
        #expect(block.contains("::ffff:10.1.0.9"))
        #expect(!block.contains("not an address"))
        let host = try #require(AddressRange("127.0.0.1"))
        #expect(host.contains("127.0.0.1") && !host.contains("127.0.0.2"))
        let six = try #require(AddressRange("fd00::/8"))
        #expect(six.contains("fd12::1") && !six.contains("fe80::1") && !six.contains("10.1.0.1"))
        #expect(AddressRange("10.0.0.0/8x") == nil && AddressRange("::/129") == nil)
    }
}
