import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A plain TCP connection to the server on 127.0.0.1, for what an HTTP client hides: the exact
/// bytes sent, and whether the server closed the connection.
final class RawConnection {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    private let socket: Int32

    init(port: Int) throws {
        socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(socket, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(socket)
            throw Failure(description: "connect to port \(port): \(String(cString: strerror(errno)))")
        }
    }

    deinit { close(socket) }

    func send(_ text: String) throws {
        let bytes = Array(text.utf8)
        guard Glibc.send(socket, bytes, bytes.count, Int32(MSG_NOSIGNAL)) == bytes.count else {
            throw Failure(description: "send: \(String(cString: strerror(errno)))")
        }
    }

    /// Everything the server sends until it closes the connection; nil when it has not closed it within `limit`.
    func readUntilClosed(within limit: Duration) async -> String? {
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            let count = recv(socket, &buffer, buffer.count, Int32(MSG_DONTWAIT))
            if count == 0 { return String(decoding: received, as: UTF8.self) }
            if count > 0 {
                received += buffer[..<count]
                continue
            }
            if errno != EAGAIN && errno != EWOULDBLOCK { return String(decoding: received, as: UTF8.self) }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return nil
    }

    /// Sends a request that ends with `Connection: close` and returns the whole answer.
    func exchange(_ request: String) async throws -> String {
        try send(request)
        guard let answer = await readUntilClosed(within: .seconds(20)) else { throw Failure(description: "no answer within 20s") }
        return answer
    }
}
