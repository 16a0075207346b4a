/// Something a supervisor keeps running: a flow of the engine or an external program.
public protocol SupervisedUnit: AnyObject, Sendable {
    var name: String { get }
    /// TCP ports that must be bound for the unit to count as up.
    var ports: [Int] { get }
    /// Starts the unit; throws with a reason an operator can act on.
    func start() throws
    /// Waits until the unit stops by itself; the reason it stopped.
    func finished() async -> String
    /// Asks the unit to stop and waits until it has.
    func stop() async
    /// Nil when the unit is up and its ports are bound by it; otherwise what is wrong.
    func verify() -> String?
}

