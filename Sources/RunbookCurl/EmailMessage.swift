import Foundation
import RunbookCore
import RunbookEscalation

/// An outbox message as an Internet message (RFC 5322): headers, a blank line, the body, every
/// line ended by CRLF.
public enum EmailMessage {
    /// The whole message as it goes to the server.
    public static func render(_ message: OutgoingMessage, from: String, to: [String], date: Date) -> String {
        let (encoding, body) = Self.body(message.body)
        let headers = [
            "Date: \(dateHeader(date))",
            "From: \(from)",
            "To: \(to.joined(separator: ", "))",
            "Subject: \(encodedHeader("\(message.tag) \(message.subjectLine)"))",
            "Message-ID: \(messageID(message, from: from))",
            "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: \(encoding)",
            "X-Runbook-Incident: \(message.incidentID)",
            "X-Runbook-Sequence: \(message.sequence)",
            "X-Runbook-Level: \(message.level)",
            "X-Runbook-Severity: \(encodedHeader(message.severity))",
        ]
        return headers.joined(separator: "\r\n") + "\r\n\r\n" + body
    }

    /// `<runbook.INCIDENT.SEQUENCE.ROW@DOMAIN>`: the same for every attempt at one outbox row, so a
    /// resend is recognisable; the domain is the sender's.
    public static func messageID(_ message: OutgoingMessage, from: String) -> String {
        let domain = from.split(separator: "@").last.map(String.init) ?? "localhost"
        return "<\(message.deliveryKey)@\(domain)>"
    }

    /// RFC 5322's date, in UTC: "Tue, 14 Apr 2026 09:30:00 +0000".
    public static func dateHeader(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss '+0000'"
        return formatter.string(from: date)
    }

    /// A header's text as is when it is short printable ASCII, else as RFC 2047 encoded-words
    /// (UTF-8, base64), folded, each word whole characters.
    public static func encodedHeader(_ text: String) -> String {
        let plain = text.unicodeScalars.allSatisfy { $0.value >= 32 && $0.value < 127 }
        if plain, text.count <= 900, !text.contains("=?") { return text }
        var words: [String] = []
        var chunk: [UInt8] = []
        func flush() {
            guard !chunk.isEmpty else { return }
            words.append("=?UTF-8?B?\(Data(chunk).base64EncodedString())?=")
            chunk = []
        }
        for character in text {
            let bytes = Array(String(character).utf8)
            // 39 bytes are 52 base64 characters: a word and "Subject: " fit in 78.
            if chunk.count + bytes.count > 39 { flush() }
            chunk += bytes
        }
        flush()
        return words.joined(separator: "\r\n ")
    }

    /// The body with CRLF line endings: 7bit when it is ASCII in lines a server takes, else
    /// quoted-printable.
    static func body(_ text: String) -> (encoding: String, text: String) {
        let lines = text.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
            .split(separator: "\n", omittingEmptySubsequences: false)
        let ascii = lines.allSatisfy { line in line.utf8.count <= 998 && line.unicodeScalars.allSatisfy { $0.isASCII && ($0.value >= 32 || $0 == "\t") && $0.value != 127 } }
        if ascii { return ("7bit", lines.map { $0 + "\r\n" }.joined()) }
        return ("quoted-printable", lines.map { quotedPrintable($0) + "\r\n" }.joined())
    }

    /// One line as quoted-printable (RFC 2045), soft-broken before 76 characters.
    static func quotedPrintable(_ line: Substring) -> String {
        let bytes = Array(line.utf8)
        var output = ""
        var current = ""
        for (index, byte) in bytes.enumerated() {
            let last = index == bytes.count - 1
            let literal = (byte >= 33 && byte <= 126 && byte != UInt8(ascii: "=")) || ((byte == 32 || byte == 9) && !last)
            let piece = literal ? String(UnicodeScalar(byte)) : String(format: "=%02X", byte)
            if current.count + piece.count > 75 {
                output += current + "=\r\n"
                current = ""
            }
            current += piece
        }
        return output + current
    }
}
