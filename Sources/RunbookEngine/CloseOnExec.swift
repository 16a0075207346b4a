import Foundation
import ServiceLifecycle
#if canImport(Glibc)
import Glibc
#endif

/// Marks every descriptor of this process close-on-exec, so that no program it starts keeps its
/// sockets. Supervised programs and steps are started with every other descriptor closed, but the
/// Swift runtime starts its crash reporter with a plain spawn: a reporter still symbolicating with
/// the HTTP or flow sockets inherited would hold their ports, and the restarted engine would find
/// them taken. SwiftNIO and libzmq open some descriptors without the flag, hence the sweep.
public enum CloseOnExec {
    /// Sets FD_CLOEXEC on every open descriptor above standard error; returns how many lacked it.
    @discardableResult
    public static func sweep() -> Int {
        guard let directory = opendir("/proc/self/fd") else { return 0 }
        defer { closedir(directory) }
        let own = dirfd(directory)
        var marked = 0
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard let fd = Int32(name), fd > 2, fd != own else { continue }
            let flags = fcntl(fd, F_GETFD)
            if flags >= 0, flags & FD_CLOEXEC == 0, fcntl(fd, F_SETFD, flags | FD_CLOEXEC) == 0 { marked += 1 }
        }
        return marked
    }
}

/// Sweeps the descriptors each second: connections accepted since the last sweep get the flag too.
struct CloseOnExecService: Service {
    func run() async throws {
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                CloseOnExec.sweep()
                try await Task.sleep(for: .seconds(1))
            }
        }
    }
}
