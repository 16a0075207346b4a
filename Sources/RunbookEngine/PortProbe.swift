import Foundation

/// Which TCP ports have a listening socket on this machine, and who holds one, from /proc.
public enum PortProbe {
    /// Listening TCP ports (IPv4 and IPv6) with the socket inode of each.
    static func listening() -> [Int: String] {
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

    @Sendable public static func areListening(_ ports: [Int]) -> Bool {
        let open = listening()
        return ports.allSatisfy { open[$0] != nil }
    }

    /// "pid 1234 (python3 sim.py)" for the process holding a listening port, when it can be found;
    /// never this process.
    public static func holder(of port: Int) -> String? {
        guard let inode = listening()[port] else { return nil }
        let target = "socket:[\(inode)]"
        let pids = (try? FileManager.default.contentsOfDirectory(atPath: "/proc"))?.compactMap(Int32.init) ?? []
        for pid in pids where pid != getpid() {
            let fdFolder = "/proc/\(pid)/fd"
            guard let fds = try? FileManager.default.contentsOfDirectory(atPath: fdFolder) else { continue }
            for fd in fds where (try? FileManager.default.destinationOfSymbolicLink(atPath: "\(fdFolder)/\(fd)")) == target {
                let command = (try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8))?
                    .replacingOccurrences(of: "\0", with: " ").trimmingCharacters(in: .whitespaces) ?? "?"
                return "pid \(pid) (\(command.prefix(80)))"
            }
        }
        return nil
    }
}
