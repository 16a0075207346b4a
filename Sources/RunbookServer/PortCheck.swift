import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Whether an address can be listened on, tried with a socket bound and closed at once, as the
/// server will bind it (SO_REUSEADDR, so a port in TIME_WAIT counts as free).
enum PortCheck {
    enum Outcome: Equatable {
        case free, inUse
        case failed(String)
    }

    static func bind(host: String, port: Int) -> Outcome {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let first = list else {
            return .failed("cannot resolve '\(host)': \(String(cString: gai_strerror(status)))")
        }
        defer { freeaddrinfo(list) }
        let fd = socket(first.pointee.ai_family, first.pointee.ai_socktype, first.pointee.ai_protocol)
        guard fd >= 0 else { return .failed(String(cString: strerror(errno))) }
        defer { close(fd) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        if Glibc.bind(fd, first.pointee.ai_addr, first.pointee.ai_addrlen) != 0 {
            return errno == EADDRINUSE ? .inUse : .failed(String(cString: strerror(errno)))
        }
        // Bound is not enough: a socket bound with SO_REUSEADDR beside a listener only fails at listen.
        if listen(fd, 1) != 0 {
            return errno == EADDRINUSE ? .inUse : .failed(String(cString: strerror(errno)))
        }
        return .free
    }
}
