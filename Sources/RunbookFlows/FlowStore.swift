import Foundation

/// Where the flows record what crosses them: EAs, signals, fires and their fate, trades.
/// Calls come from the flows' own threads.
public protocol FlowStore: Sendable {
    /// `count` heartbeats of one EA, the latest at `date`.
    func recordHeartbeats(target: String, account: String?, at date: Date, count: Int) throws
    func recordSignal(_ signal: FlowMessage.Signal, at date: Date) throws
    /// False when a fire with this id was queued before: it is not sent again.
    func recordFireQueued(_ fire: FlowMessage.Fire, at date: Date) throws -> Bool
    func recordFireSent(id: String, at date: Date) throws
    func recordFireFailed(id: String, reason: String, at date: Date) throws
    func recordConfirmation(_ confirmation: FlowMessage.Confirmation, at date: Date) throws -> ConfirmationOutcome
    /// False when no fire has this id. A confirmation or close for a fire never queued is kept
    /// too (`unmatchedAnswers`), for reconciliation.
    func recordClose(_ close: FlowMessage.Close, at date: Date) throws -> Bool
    func recordProbe(id: String, at date: Date) throws
    /// An EA's report of the positions it holds: it replaces the EA's previous one.
    func recordPositions(_ report: FlowMessage.Positions, at date: Date) throws
    /// The EA a fire was queued for; nil when no fire has this id.
    func fireTarget(id: String) throws -> String?
}

/// What a confirmation did to its fire.
public enum ConfirmationOutcome: Sendable, Equatable {
    case applied
    /// No fire has the id.
    case unknownFire
    /// The fire was already FILLED or FAILED: a late or repeated confirmation changes nothing.
    case alreadyFinal
}
