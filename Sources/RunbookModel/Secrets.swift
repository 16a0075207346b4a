import Foundation
import Synchronization

/// Secret values, and the one way they are hidden wherever text leaves the process (records,
/// logs, messages, diagnostics): every occurrence of every value is replaced by `***`. The set
/// only grows; a run adds the values it derives from a secret as it computes them, so secrecy
/// follows the value.
///
/// Every non-empty value is masked, however short: a one-character secret masks that character
/// everywhere, which garbles the text but never reveals the secret.
public final class Secrets: Sendable {
    public static let mask = "***"
    /// Longest first, so that a secret containing another is masked whole.
    private let values = Mutex<[String]>([])

    public init(_ values: some Sequence<String> = [String]()) {
        for value in values { add(value) }
    }

    /// Masks `value` from now on, and the form it takes inside a JSON string (a list or map
    /// value's text) when that differs. Whether it was new.
    @discardableResult
    public func add(_ value: String) -> Bool {
        guard !value.isEmpty else { return false }
        var forms = [value]
        if let data = try? JSONSerialization.data(withJSONObject: [value], options: [.withoutEscapingSlashes]) {
            let escaped = String(decoding: data, as: UTF8.self).dropFirst(2).dropLast(2)
            if escaped != value { forms.append(String(escaped)) }
        }
        return values.withLock { values in
            let new = !values.contains(value)
            for form in forms where !values.contains(form) {
                values.insert(form, at: values.firstIndex { $0.count < form.count } ?? values.endIndex)
            }
            return new
        }
    }

    /// A value computed from a secret (`${{ params.pin + 1 }}`, a parameter a child run was
    /// given): secret itself, unless it shows a known secret, whose masking already hides what
    /// it holds of it (the rest is the runbook's own text, and stays readable).
    public func addDerived(_ value: String) {
        if !reveals(value) { add(value) }
    }

    /// Adds the password of every `scheme://user:password@` URL in `text`: a database URL a step
    /// is given is masked in the run's records, log and plan however it got there.
    public func addURLPasswords(in text: String) {
        guard text.contains("://") else { return }
        for match in text.matches(of: /:\/\/[^:\/@\s]*:([^\s\/]+)@/) where match.1 != "PASSWORD" {
            add(String(match.1))
        }
    }

    /// A run's secrets to begin with: the password of every URL in the engine's environment (a
    /// store's `RUNBOOK_STORE_URL`, say), which a shell step inherits and may print.
    public static func forRun(environment: [String: String] = ProcessInfo.processInfo.environment) -> Secrets {
        let secrets = Secrets()
        for value in environment.values { secrets.addURLPasswords(in: value) }
        return secrets
    }

    /// Whether `text` holds a secret.
    public func reveals(_ text: String) -> Bool {
        values.withLock { $0.contains { text.contains($0) } }
    }

    /// `text` with every secret in it replaced by `***`.
    public func mask(_ text: String) -> String {
        values.withLock { $0 }.reduce(text) { $0.replacingOccurrences(of: $1, with: Self.mask) }
    }

}

extension String {
    /// This text with the password of every `scheme://user:password@` in it shown as `***`; the
    /// placeholder of advice (`USER:PASSWORD@`) stays as it is.
    public var maskingURLPasswords: String {
        replacingOccurrences(of: #"(://[^:/@\s]*):(?!PASSWORD@)[^\s/]*@"#, with: "$1:***@", options: .regularExpression)
    }
}
