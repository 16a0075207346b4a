import Foundation

/// A block of IP addresses written as CIDR (`10.0.0.0/8`, `fd00::/8`) or one address
/// (`192.168.1.20`, a /32): an entry of `flows.security.allow`.
public struct AddressRange: Sendable, Equatable, CustomStringConvertible {
    /// The network's bytes: 4 for IPv4, 16 for IPv6.
    public let network: [UInt8]
    public let prefixLength: Int

    /// Nil when `text` is not an address, or its prefix is longer than the address.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        guard let bytes = Self.bytes(of: parts[0]) else { return nil }
        let length: Int
        if parts.count == 2 {
            guard let number = Int(parts[1]), (0...bytes.count * 8).contains(number), parts[1].allSatisfy(\.isNumber) else { return nil }
            length = number
        } else {
            length = bytes.count * 8
        }
        network = Self.masked(bytes, to: length)
        prefixLength = length
    }

    public var description: String {
        let address = network.count == 4 ? network.map(String.init).joined(separator: ".") : Self.text(ofIPv6: network)
        return "\(address)/\(prefixLength)"
    }

    /// Whether `address` (as libzmq reports a peer: `10.1.2.3`, `::1`, `::ffff:10.1.2.3`) is in
    /// the block. An IPv4 address mapped into IPv6 counts as the IPv4 address.
    public func contains(_ address: String) -> Bool {
        guard var bytes = Self.bytes(of: address) else { return false }
        if bytes.count == 16, bytes[..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xff, bytes[11] == 0xff { bytes = Array(bytes[12...]) }
        return bytes.count == network.count && Self.masked(bytes, to: prefixLength) == network
    }

    private static func bytes(of text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }

    private static func masked(_ bytes: [UInt8], to length: Int) -> [UInt8] {
        bytes.enumerated().map { index, byte in
            let bits = min(8, max(0, length - index * 8))
            return bits == 8 ? byte : byte & ~(UInt8(0xff) >> bits)
        }
    }

    private static func text(ofIPv6 bytes: [UInt8]) -> String {
        var address = in6_addr()
        withUnsafeMutableBytes(of: &address) { $0.copyBytes(from: bytes) }
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        guard inet_ntop(AF_INET6, &address, &buffer, socklen_t(buffer.count)) != nil else { return "?" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
