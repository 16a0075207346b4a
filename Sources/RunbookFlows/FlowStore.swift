import Foundation

/// Where the flows record what crosses them: EAs, signals, fires and their fate, trades.
/// Calls come from the flows' own threads.
public protocol FlowStore: Sendable {
    func recordHeartbeat(target: String, account: String?, at date: Date) throws
    func recordSignal(_ signal: FlowMessage.Signal, at date: Date) throws
    func recordFireQueued(_ fire: FlowMessage.Fire, at date: Date) throws
    func recordFireSent(id: String, at date: Date) throws
    func recordFireFailed(id: String, reason: String, at date: Date) throws
    /// False when no fire has this id.
    func recordConfirmation(_ confirmation: FlowMessage.Confirmation, at date: Date) throws -> Bool
    /// False when no fire has this id.
    func recordClose(_ close: FlowMessage.Close, at date: Date) throws -> Bool
    func recordProbe(id: String, at date: Date) throws
}
