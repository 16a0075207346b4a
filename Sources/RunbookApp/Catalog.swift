import RunbookChecks
import RunbookCurl
import RunbookEngine
import RunbookEscalation
import RunbookSQLite
import RunbookSteps

/// What this build offers a runbook, a check and the configuration: every step primitive, every
/// probe kind and every channel kind, from the core and from each adapter. Commands, the engine
/// and tests load YAML against it.
public enum Catalog {
    /// Every step primitive.
    public static let steps = StepRegistry.core.merging(.sqlite).merging(.curl).merging(.checks).merging(.engine)
    /// Every probe kind.
    public static let probes = ProbeRegistry.core.merging(.sqlite).merging(.curl).merging(.engine)
    /// Every notification channel kind.
    public static let channels = ChannelRegistry.curl
}
