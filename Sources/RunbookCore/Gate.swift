import Foundation
import Synchronization

/// The kill switch on the command router: while the gate is closed, no fire from the queue
/// reaches an EA (each is recorded `FAILED` with `gate closed: REASON`); test probes still pass.
/// Each change is kept in the records with who made it, how and why, so the gate stays closed
/// across a restart of the engine, and a fleet shares one gate.
public struct GateChange: Sendable, Equatable, Codable {
    public var closed: Bool
    /// Why it was closed (or opened).
    public var reason: String
    /// Who: a person's name, or `runbook NAME (run N)` for a runbook's step.
    public var by: String
    /// How: `cli`, `api`, `dashboard`, `runbook`.
    public var via: String
    public var at: Date

    public init(closed: Bool, reason: String, by: String, via: String, at: Date) {
        self.closed = closed
        self.reason = reason
        self.by = by
        self.via = via
        self.at = at
    }

    /// What an operator reads: "closed by ann (cli) at 2026-12-07 03:12:09Z: broker maintenance".
    public var text: String {
        let when = ISO8601DateFormatter().string(from: at)
        return "\(closed ? "closed" : "open") since \(when), by \(by) (\(via))" + (reason.isEmpty ? "" : ": \(reason)")
    }
}

/// Where the gate's changes are kept: the records.
public protocol GateStore: Sendable {
    /// The latest change; nil when the gate was never changed (it is open).
    func gate() async throws -> GateChange?
    func changeGate(_ change: GateChange) async throws
    /// The latest changes, newest first.
    func gateChanges(limit: Int) async throws -> [GateChange]
}

/// The gate as the command router reads it for each fire: in memory, refreshed from the records
/// by the engine and set at once by whoever changes it in the engine's process.
public final class FireGate: Sendable {
    private let state = Mutex<GateChange?>(nil)

    public init(_ change: GateChange? = nil) {
        state.withLock { $0 = change }
    }

    /// Takes `change` unless this gate already knows a later one: a read of the records that
    /// started before a change made here (and came back after it) does not undo it.
    public func know(_ change: GateChange?) {
        state.withLock { current in
            guard let change else { return }
            if let current, change.at < current.at { return }
            current = change
        }
    }

    public var current: GateChange? { state.withLock { $0 } }

    /// Why fires may not pass, while the gate is closed.
    public var closedReason: String? {
        state.withLock { $0.flatMap { $0.closed ? $0.reason : nil } }
    }
}

/// Changes the gate: in the records first (so that it holds across a restart and for the whole
/// fleet), then in this engine's memory at once, then tells whoever else must know (the running
/// engine, from another process).
public struct GateKeeper: Sendable {
    public let store: any GateStore
    /// This engine's gate, where the change is made in the engine's own process.
    public let gate: FireGate?
    private let changed: @Sendable (GateChange) async -> Void

    public init(store: any GateStore, gate: FireGate? = nil, changed: @escaping @Sendable (GateChange) async -> Void = { _ in }) {
        self.store = store
        self.gate = gate
        self.changed = changed
    }

    /// Closes (`closed`) or opens the gate; the change as recorded. Closing needs a reason.
    /// A close takes effect in this engine's memory first, so that it holds even when the
    /// records cannot be written (`GateNotRecorded` then says so); an open only once recorded.
    @discardableResult
    public func change(closed: Bool, reason: String, by: String, via: String, at: Date = Date()) async throws -> GateChange {
        let reason = reason.trimmingCharacters(in: .whitespacesAndNewlines)
        let by = by.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !closed || !reason.isEmpty else { throw GateRefused("say why the gate closes: a reason is required") }
        guard !by.isEmpty else { throw GateRefused("say who changes the gate: a name is required") }
        guard reason.count <= 500, by.count <= 200 else { throw GateRefused("the reason is limited to 500 characters and the name to 200") }
        guard !(reason + by).unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw GateRefused("the reason and the name are one line of text, without control characters")
        }
        // To the millisecond, as the records keep it: the change read back is the same change.
        let at = Date(timeIntervalSince1970: (at.timeIntervalSince1970 * 1000).rounded() / 1000)
        let change = GateChange(closed: closed, reason: reason, by: by, via: via, at: at)
        if closed { gate?.know(change) }
        do {
            try await store.changeGate(change)
        } catch where closed && gate != nil {
            await changed(change)
            throw GateNotRecorded(change: change, reason: "\(error)")
        }
        gate?.know(change)
        await changed(change)
        return change
    }

    /// The gate as the records have it (open when never changed).
    public func current() async throws -> GateChange? {
        try await store.gate()
    }
}

/// A change of the gate that was not made, and why.
public struct GateRefused: Error, Sendable, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// A close that holds in this engine but could not be written to the records: the engine
/// forgets it when it restarts, and the other engines of a fleet do not know it.
public struct GateNotRecorded: Error, Sendable, CustomStringConvertible {
    public let change: GateChange
    public let reason: String

    public var description: String {
        "the gate is closed in this engine, but the records could not be written (\(reason)): other engines do not know it, and this one forgets it when it restarts; close it again once the records answer"
    }
}
