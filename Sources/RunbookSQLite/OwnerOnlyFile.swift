import Foundation

/// A database file only its owner can read or write (mode 0600): the records hold runs'
/// parameters and outputs, the tick store a trading history. SQLite gives the `-wal` and `-shm`
/// files it creates beside a database the database file's mode, so they are covered too.
enum OwnerOnlyFile {
    /// Creates the file at `path` with mode 0600 when there is none, before SQLite opens it (an
    /// empty file is an empty database). A file made by an earlier version with a wider mode is
    /// narrowed, with its `-wal` and `-shm`; one of another user's is left as it is (this process
    /// cannot change it).
    static func prepare(_ path: String) throws {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        if descriptor >= 0 {
            close(descriptor)
        } else if errno != EEXIST {
            throw RecordsError(String(cString: strerror(errno)))
        }
        for file in [path, path + "-wal", path + "-shm"] {
            var status = stat()
            if stat(file, &status) == 0, status.st_mode & 0o077 != 0 { chmod(file, 0o600) }
        }
    }
}
