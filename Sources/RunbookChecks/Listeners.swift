import CSockDiag
import Foundation

/// Which TCP ports have a listening socket on this machine, and who holds one.
public enum Listeners {
    /// Listening TCP ports (IPv4 and IPv6) with the socket inode of each: from the kernel's socket
    /// diagnostics, or from /proc/net/tcp where those cannot be asked.
    static func listening() -> [Int: String] {
        diagnosed() ?? fromProc()
    }

    /// Asked through NETLINK_SOCK_DIAG, which lists listening sockets alone; nil if refused.
    static func diagnosed() -> [Int: String]? {
        var ports: [Int: String] = [:]
        for family in [AF_INET, AF_INET6] {
            var capacity = 256
            while true {
                var found = [UInt32](repeating: 0, count: capacity)
                var inodes = [UInt64](repeating: 0, count: capacity)
                let count = Int(runbook_listening_tcp(family, &found, &inodes, Int32(capacity)))
                guard count >= 0 else { return nil }
                if count > capacity {
                    capacity = count + 64
                    continue
                }
                for index in 0..<count { ports[Int(found[index])] = String(inodes[index]) }
                break
            }
        }
        return ports
    }

    /// Read from /proc/net/tcp and tcp6 (slow: the kernel walks every connection bucket).
    static func fromProc() -> [Int: String] {
        var ports: [Int: String] = [:]
        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
            guard let text = try? String(contentsOfFile: table, encoding: .utf8) else { continue }
            for line in text.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ")
                // local_address is field 1 (ADDR:PORT in hex), st is field 3 (0A = LISTEN), inode is field 9.
                guard fields.count > 9, fields[3] == "0A", let colon = fields[1].lastIndex(of: ":"),
                      let port = Int(fields[1][fields[1].index(after: colon)...], radix: 16)
                else { continue }
                ports[port] = String(fields[9])
            }
        }
        return ports
    }

    public static func isListening(_ port: Int) -> Bool {
        listening()[port] != nil
    }

    /// Those of `ports` that nothing listens on, from one look at the kernel's tables.
    public static func notListening(_ ports: [Int]) -> [Int] {
        guard !ports.isEmpty else { return [] }
        let listening = listening()
        return ports.filter { listening[$0] == nil }
    }

    /// The processes holding a listening port's socket.
    public static func holderPIDs(of port: Int) -> [Int32] {
        guard let inode = listening()[port] else { return [] }
        let target = "socket:[\(inode)]"
        let pids = (try? FileManager.default.contentsOfDirectory(atPath: "/proc"))?.compactMap(Int32.init) ?? []
        return pids.filter { pid in
            let fdFolder = "/proc/\(pid)/fd"
            let fds = (try? FileManager.default.contentsOfDirectory(atPath: fdFolder)) ?? []
            return fds.contains { (try? FileManager.default.destinationOfSymbolicLink(atPath: "\(fdFolder)/\($0)")) == target }
        }
    }

    /// "pid 1234 (python3 sim.py)" for the process holding a listening port, when it can be found;
    /// never this process.
    public static func holder(of port: Int) -> String? {
        guard let pid = holderPIDs(of: port).first(where: { $0 != getpid() }) else { return nil }
        let command = (try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8))?
            .replacingOccurrences(of: "\0", with: " ").trimmingCharacters(in: .whitespaces) ?? "?"
        return "pid \(pid) (\(command.prefix(80)))"
    }

    /// Whether a process runs (a zombie does not).
    public static func isRunning(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return false }
        return !stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).hasPrefix("Z")
    }
}
