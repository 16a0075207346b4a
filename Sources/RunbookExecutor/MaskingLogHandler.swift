import Logging
import RunbookModel

/// The log of a run: every message and metadata value passes through the run's secrets before
/// the handler underneath writes it, whichever step or part of the executor logs it.
struct MaskingLogHandler: LogHandler {
    private var underlying: any LogHandler
    let secrets: Secrets

    /// A logger like `logger`, writing to the same place, with `secrets` masked.
    static func logger(_ logger: Logger, masking secrets: Secrets) -> Logger {
        Logger(label: logger.label) { _ in MaskingLogHandler(underlying: logger.handler, secrets: secrets) }
    }

    private init(underlying: any LogHandler, secrets: Secrets) {
        self.underlying = underlying
        self.secrets = secrets
    }

    var logLevel: Logger.Level {
        get { underlying.logLevel }
        set { underlying.logLevel = newValue }
    }

    var metadata: Logger.Metadata {
        get { underlying.metadata }
        set { underlying.metadata = newValue.mapValues(masked) }
    }

    var metadataProvider: Logger.MetadataProvider? {
        get { underlying.metadataProvider }
        set { underlying.metadataProvider = newValue }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { underlying[metadataKey: key] }
        set { underlying[metadataKey: key] = newValue.map(masked) }
    }

    func log(event: LogEvent) {
        var event = event
        event.message = "\(secrets.mask(event.message.description))"
        event.metadata = event.metadata?.mapValues(masked)
        if let error = event.error { event.error = MaskedError(description: secrets.mask("\(error)")) }
        underlying.log(event: event)
    }

    private func masked(_ value: Logger.Metadata.Value) -> Logger.Metadata.Value {
        switch value {
        case .string(let text): .string(secrets.mask(text))
        case .stringConvertible(let convertible): .string(secrets.mask(convertible.description))
        case .dictionary(let metadata): .dictionary(metadata.mapValues(masked))
        case .array(let values): .array(values.map(masked))
        }
    }
}

/// An error attached to a log line, as its description with the run's secrets masked.
private struct MaskedError: Error, CustomStringConvertible {
    var description: String
}
