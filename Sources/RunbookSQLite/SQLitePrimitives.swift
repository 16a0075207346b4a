import RunbookSteps

extension StepRegistry {
    /// The primitives that work on SQLite files: queries, backups, and the tick store's policies.
    public static let sqlite = StepRegistry([SQLStep.self, BackupStep.self, CompressStep.self, RetentionStep.self])
}
