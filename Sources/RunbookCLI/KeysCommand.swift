import ArgumentParser
import Foundation
import RunbookZMQ

/// `runbook keys`: a CURVE key pair for the flows, the engine's or an EA's.
struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Make a CURVE key pair for the flows: NAME.key (the secret key, mode 0600) and NAME.pub, and print the public key.",
        discussion: """
            runbook keys makes the engine's pair (server.key, named by flows.security.curve.secret_key_file; \
            server.pub goes to every EA). runbook keys ea-host-1 makes an EA's pair (its public key goes under \
            flows.security.curve.clients, its secret key to the EA). Exits 1 when a key file exists, unless --force.
            """
    )

    @Argument(help: "The key pair's name: letters, digits, '-', '_' and '.'.")
    var name = "server"

    @Option(help: "The folder to write the key files in.")
    var dir = "."

    @Flag(help: "Replace existing key files (peers holding the old public key can no longer connect).")
    var force = false

    @Flag(help: "Print the public key and the files as JSON.")
    var json = false

    func validate() throws {
        let plain = name.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "-_.".unicodeScalars.contains($0)) }
        guard !name.isEmpty, plain, !name.hasPrefix(".") else { throw ValidationError("the name '\(name)' is not a plain name: use letters, digits, '-', '_' and '.', such as ea-host-1") }
    }

    func run() throws {
        guard ZMQCurve.isAvailable else {
            Console.error("error: this libzmq was built without CURVE (libsodium): install Debian's libzmq5")
            throw ExitStatus.failed.code
        }
        let folder = URL(fileURLWithPath: dir)
        let secretFile = folder.appendingPathComponent("\(name).key").path
        let publicFile = folder.appendingPathComponent("\(name).pub").path
        for file in [secretFile, publicFile] where FileManager.default.fileExists(atPath: file) && !force {
            Console.error("error: \(file) exists: pass --force to replace the pair (peers holding its public key can no longer connect)")
            throw ExitStatus.failed.code
        }
        let pair = try ZMQCurve.keyPair()
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try Self.writeSecret(pair.secretKey + "\n", to: secretFile)
            try Data((pair.publicKey + "\n").utf8).write(to: URL(fileURLWithPath: publicFile))
        } catch {
            Console.error("error: cannot write the key files in \(dir): \(error.localizedDescription)")
            throw ExitStatus.failed.code
        }
        if json {
            Console.json(["name": name, "public_key": pair.publicKey, "secret_key_file": secretFile, "public_key_file": publicFile])
        } else {
            Console.out(pair.publicKey)
            Console.out("secret key: \(secretFile) (mode 0600, never share it); public key: \(publicFile)")
        }
    }

    /// Created with mode 0600 from the start, never readable by others even for a moment.
    private static func writeSecret(_ text: String, to path: String) throws {
        unlink(path)
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard descriptor >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        defer { close(descriptor) }
        let bytes = Array(text.utf8)
        guard write(descriptor, bytes, bytes.count) == bytes.count else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
    }
}
