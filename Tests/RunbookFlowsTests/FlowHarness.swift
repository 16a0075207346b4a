import Foundation
import Logging
import RunbookFlows
import RunbookSQLite
import RunbookZMQ

/// Flows on loopback ports libzmq picks, with real records in a scratch folder.
final class FlowHarness {
    let context = try! ZMQContext()
    let folder: URL
    let records: RecordsDatabase
    private var threads: [FlowThread] = []

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("flows-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        records = try RecordsDatabase(path: folder.appendingPathComponent("runbook.db").path)
    }

    static let logger = Logger(label: "flows-test")

    /// Opens the flow and starts its thread; returns the endpoints it bound.
    @discardableResult
    func start(_ flow: any Flow) throws -> [String] {
        try flow.open(context)
        let thread = FlowThread(flow)
        thread.start()
        threads.append(thread)
        return flow.listening
    }

    func socket(_ kind: ZMQSocket.Kind, connect endpoint: String, routingID: String? = nil) throws -> ZMQSocket {
        let socket = try ZMQSocket(context, kind)
        if let routingID { try socket.setRoutingID(routingID) }
        if kind == .sub { try socket.subscribe() }
        try socket.setReceiveTimeout(milliseconds: 3000)
        try socket.connect(endpoint)
        return socket
    }

    func stop() async {
        threads.forEach { $0.stop() }
        for thread in threads { _ = await thread.finished() }
        try? FileManager.default.removeItem(at: folder)
    }
}

func tick(_ symbol: String, _ n: Int) -> String {
    #"{"type":"tick","symbol":"\#(symbol)","bid":1.0851\#(n % 10),"ask":1.0852\#(n % 10),"time_msc":\#(1_763_700_000_000 + n),"volume":0}"#
}
