extension Clock where Duration == Swift.Duration {
    /// A function that tells the time passed on this clock since the call.
    public func stopwatch() -> @Sendable () -> Swift.Duration {
        let start = now
        return { start.duration(to: self.now) }
    }
}
