import RunbookSteps

extension StepRegistry {
    /// The primitives that work on SQLite files.
    public static let sqlite = StepRegistry([SQLStep.self, BackupStep.self])
}
