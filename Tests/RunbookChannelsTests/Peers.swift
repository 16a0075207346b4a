import Foundation
import RunbookEscalation
import RunbookTestSupport

extension Peer {
    static let scripts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Peers")

    /// One of this target's peers (Peers/).
    convenience init(_ script: String, _ arguments: [String] = [], folder: URL? = nil) throws {
        try self.init(script: Self.scripts.appendingPathComponent(script), arguments, folder: folder)
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
