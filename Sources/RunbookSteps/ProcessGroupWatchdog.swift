import Foundation
import Subprocess
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

/// Kills the process groups of the shell steps still running when this process ends, however it
/// ends: kill -9 included, when nothing in it runs any more.
///
/// A small shell, started before the first shell step in a process group of its own (a signal to
/// ours, Ctrl-C or `kill -9 -PGID`, does not reach it), reads `+ GROUP` and `- GROUP` lines from a
/// socket only this process holds (close-on-exec, so no command inherits it). The kernel closes
/// the socket when this process dies; the shell then reads the end of its input and kills every
/// group still listed. A step's group holds its command and whatever that started, so children
/// and grandchildren go together; the parent-death signal (`PR_SET_PDEATHSIG`) would reach the
/// command only. Lines are sent with MSG_NOSIGNAL: a watchdog gone never takes this process with it.
enum ProcessGroupWatchdog {
    /// Ignores the signals sent to stop a terminal's jobs or a service: its end is its input's end.
    static let script = """
        trap '' HUP INT TERM
        groups=' '
        while read -r change group; do
          case $change in
            +) groups="$groups$group " ;;
            -) case $groups in *" $group "*) groups="${groups%% $group *} ${groups#* $group }" ;; esac ;;
          esac
        done
        for group in $groups; do kill -s KILL -- "-$group" 2>/dev/null; done
        """

    /// This process's end of the watchdog's input, once the watchdog runs; nil when it could not start.
    private static let input = Task<Int32?, Never> { await start() }

    /// A group the watchdog kills should this process die, until `release`.
    struct Watched: Sendable {
        let socket: Int32?
        let group: pid_t

        /// The group has ended: its id may go to another.
        func release() {
            ProcessGroupWatchdog.send("- \(group)\n", to: socket)
        }
    }

    /// Has `group` killed should this process die; the line is in the watchdog's input when this returns.
    static func watch(_ group: pid_t) async -> Watched {
        let socket = await input.value
        send("+ \(group)\n", to: socket)
        return Watched(socket: socket, group: group)
    }

    static func send(_ line: String, to socket: Int32?) {
        guard let socket else { return }
        let bytes = Array(line.utf8)
        _ = Glibc.send(socket, bytes, bytes.count, Int32(MSG_NOSIGNAL))
    }

    private static func start() async -> Int32? {
        var ends: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &ends) == 0 else { return nil }
        let (ours, theirs) = (ends[0], ends[1])
        let (spawned, report) = AsyncStream.makeStream(of: Bool.self)
        Task.detached {
            var options = PlatformOptions()
            options.processGroupID = 0
            let ran = try? await Subprocess.run(
                .path("/bin/sh"), arguments: ["-c", script], platformOptions: options,
                input: .fileDescriptor(FileDescriptor(rawValue: theirs), closeAfterSpawningProcess: true),
                output: .discarded, error: .discarded
            ) { _ in
                // Running; `run` now waits for its end, which comes after this process's.
                report.yield(true)
            }
            if ran == nil { report.yield(false) }
        }
        for await running in spawned {
            if running { return ours }
            break
        }
        close(ours)
        return nil
    }
}
