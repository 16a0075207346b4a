import CZeroMQ

/// CURVE keys as ZeroMQ writes them: 32 bytes in Z85, 40 characters of text.
public enum ZMQCurve {
    /// Whether this libzmq was built with CURVE (libsodium).
    public static var isAvailable: Bool { zmq_has("curve") == 1 }

    /// A new key pair.
    public static func keyPair() throws(ZMQError) -> (publicKey: String, secretKey: String) {
        var publicKey = [CChar](repeating: 0, count: 41)
        var secretKey = [CChar](repeating: 0, count: 41)
        guard zmq_curve_keypair(&publicKey, &secretKey) == 0 else { throw ZMQError.last("make a CURVE key pair") }
        return (text(publicKey), text(secretKey))
    }

    /// Whether `text` decodes as a Z85 key.
    public static func isKey(_ text: String) -> Bool {
        guard text.utf8.count == 40 else { return false }
        var bytes = [UInt8](repeating: 0, count: 32)
        return zmq_z85_decode(&bytes, text) != nil
    }

    /// A 32-byte key in Z85.
    static func z85(_ key: [UInt8]) -> String? {
        guard key.count == 32 else { return nil }
        var encoded = [CChar](repeating: 0, count: 41)
        guard zmq_z85_encode(&encoded, key, key.count) != nil else { return nil }
        return text(encoded)
    }

    private static func text(_ characters: [CChar]) -> String {
        String(decoding: characters.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
