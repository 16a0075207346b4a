/// Keeps the first and last bytes of a stream up to a limit, and counts what it left out.
public struct BoundedOutput: Sendable {
    public let limit: Int
    private var head: [UInt8] = []
    private var tail: [UInt8] = []
    public private(set) var omitted: Int = 0

    public init(limit: Int) {
        self.limit = max(limit, 16)
    }

    public mutating func append(_ bytes: some Collection<UInt8>) {
        let headRoom = limit / 2 - head.count
        var rest = bytes[...]
        if headRoom > 0 {
            head += rest.prefix(headRoom)
            rest = rest.dropFirst(headRoom)
        }
        guard !rest.isEmpty else { return }
        tail += rest
        let tailLimit = limit - limit / 2
        if tail.count > tailLimit {
            omitted += tail.count - tailLimit
            tail.removeFirst(tail.count - tailLimit)
        }
    }

    public var text: String {
        let middle = omitted > 0 ? "\n[... \(omitted) bytes left out ...]\n" : ""
        return String(decoding: head, as: UTF8.self) + middle + String(decoding: tail, as: UTF8.self)
    }
}
