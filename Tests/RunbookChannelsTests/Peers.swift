import Foundation
import RunbookEscalation
import RunbookTestSupport

/// A Python peer of these tests (Peers/), listening on loopback on a port the system chose for it,
/// recording what it received in a file of JSON lines.
final class Peer {
    let process = Process()
    let folder: URL
    let port: Int

    static let scripts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Peers")

    struct NotReady: Error, CustomStringConvertible {
        var description: String
    }

    /// A new scratch folder, which a peer given it removes when it goes.
    static func scratchFolder() throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("channels-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder
    }

    /// Starts `script` with the record file (in `folder`) and `arguments`, and waits until it says
    /// its port.
    init(_ script: String, _ arguments: [String] = [], folder: URL? = nil) throws {
        self.folder = try folder ?? Self.scratchFolder()
        let output = Pipe()
        // Debian's Python: the SMTP peer needs python3-aiosmtpd.
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [Self.scripts.appendingPathComponent(script).path, self.folder.appendingPathComponent("received.jsonl").path] + arguments
        process.standardOutput = output
        try process.run()
        port = Int(firstLine(of: output)) ?? 0
        if port == 0 {
            kill(process.processIdentifier, SIGKILL)
            try? FileManager.default.removeItem(at: self.folder)
            throw NotReady(description: "\(script) did not start (see its error output above)")
        }
    }

    deinit {
        // Processes started from a test thread inherit its blocked signals, SIGTERM among them.
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        try? FileManager.default.removeItem(at: folder)
    }

    /// What the peer received, one entry per request or message, in order.
    var received: [[String: Any]] {
        let text = (try? String(contentsOf: folder.appendingPathComponent("received.jsonl"), encoding: .utf8)) ?? ""
        return text.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    /// A JSON body the peer received, decoded.
    static func json(_ entry: [String: Any]?) -> [String: Any] {
        guard let body = entry?["body"] as? String else { return [:] }
        return (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:]
    }
}

/// A port nothing listens on (the existing HTTP tests use it the same way).
let closedPort = 1

/// A message as the outbox would hand it over.
func message(id: Int64 = 45, incident: Int64 = 12, sequence: Int = 3, subject: String = "EA lost: ea-02", body: String = "No heartbeat from ea-02 for 90s.\nLevel 2: alert.") -> OutgoingMessage {
    OutgoingMessage(id: id, incidentID: incident, sequence: sequence, level: 2, severity: "critical", subject: subject, body: body)
}

/// Every reason of a result, for checks that a secret is never in one.
extension DeliveryResult {
    var reason: String? {
        switch self {
        case .delivered: nil
        case .retry(_, let reason), .uncertain(let reason), .rejected(let reason): reason
        }
    }

    var kind: String {
        switch self {
        case .delivered: "delivered"
        case .retry: "retry"
        case .uncertain: "uncertain"
        case .rejected: "rejected"
        }
    }
}
