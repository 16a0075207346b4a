import CZeroMQ

/// Waits until any of a set of sockets has a message.
public struct ZMQPoller {
    private var items: [zmq_pollitem_t]

    public init(_ sockets: [ZMQSocket]) {
        items = sockets.map { zmq_pollitem_t(socket: $0.handle, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0) }
    }

    /// The positions of the sockets that can be read, after waiting at most `timeout`.
    /// An interrupted wait returns no positions.
    public mutating func poll(timeout: Duration) throws(ZMQError) -> [Int] {
        let milliseconds = timeout.components.seconds * 1000 + timeout.components.attoseconds / 1_000_000_000_000_000
        let count = items.withUnsafeMutableBufferPointer { zmq_poll($0.baseAddress, Int32($0.count), Int(milliseconds)) }
        guard count >= 0 else {
            let error = ZMQError.last("poll")
            if error.isInterrupted { return [] }
            throw error
        }
        return items.indices.filter { items[$0].revents & Int16(ZMQ_POLLIN) != 0 }
    }
}
