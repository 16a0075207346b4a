import Foundation
import RunbookFlows
import RunbookModel
import RunbookZMQ

extension FlowAccess.Policy {
    /// The policy of `flows.security`, with the server's secret key read from its file. A key file
    /// that cannot be read, holds no Z85 key or may be read by others stops the start.
    init(_ security: FlowSecurity) throws(LiveEngine.StartFailure) {
        let ranges = security.allow
        var allows: (@Sendable (String) -> Bool)?
        if !ranges.isEmpty { allows = { address in ranges.contains { $0.contains(address) } } }
        let clients = security.clients.map { FlowAccess.Client(name: $0.name, publicKey: $0.publicKey, routingIDs: Set($0.routingIDs)) }
        self.init(secretKey: nil, clients: clients, allows: allows)
        guard let path = security.secretKeyFile else { return }
        guard ZMQCurve.isAvailable else {
            throw LiveEngine.StartFailure(description: "flows.security.curve needs CURVE, and this libzmq was built without it (libsodium)")
        }
        var status = stat()
        guard stat(path, &status) == 0, let data = FileManager.default.contents(atPath: path) else {
            throw LiveEngine.StartFailure(description: "cannot read the flows' secret key file \(path): make one with `runbook keys`")
        }
        if status.st_mode & 0o077 != 0 {
            throw LiveEngine.StartFailure(
                description: "the flows' secret key file \(path) may be read by others (mode \(String(status.st_mode & 0o777, radix: 8))): chmod 600 \(path)"
            )
        }
        let key = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard ZMQCurve.isKey(key) else {
            throw LiveEngine.StartFailure(description: "the flows' secret key file \(path) does not hold a CURVE secret key (40 characters of Z85, as `runbook keys` writes)")
        }
        secretKey = key
    }
}
