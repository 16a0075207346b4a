import RunbookChecks
import RunbookCurl
import RunbookEngine
import RunbookSQLite
import RunbookSteps

/// What this build offers a runbook and a check: every step primitive and every probe kind,
/// from the core and from each adapter. Commands, the engine and tests load YAML against it.
public enum Catalog {
    /// Every step primitive.
    public static let steps = StepRegistry.core.merging(.sqlite).merging(.curl).merging(.checks).merging(.engine)
    /// Every probe kind.
    public static let probes = ProbeRegistry.core.merging(.sqlite).merging(.curl)
}
