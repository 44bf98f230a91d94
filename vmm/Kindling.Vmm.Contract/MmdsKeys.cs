namespace Kindling.Vmm.Contract;

/// <summary>
/// The keys of the job the runner puts into MMDS and the guest agent reads (images/guest/PROTOCOL.md,
/// images/guest/agent.sh). MMDS itself holds <c>kindling/document</c> (and, for host-driven steps,
/// <c>kindling/steps/N</c>); the document is written from a tree <c>kindling/{job, secrets, github, network}</c>
/// whose keys are the rest of these constants (each nested class one object of the tree, every leaf a string) and
/// whose records name the same fields (<c>doc_job id '42'</c>).
/// </summary>
public static class MmdsKeys
{
    /// <summary>The document's one top-level key.</summary>
    public const string Kindling = "kindling";

    /// <summary>The keys of <c>kindling/</c>.</summary>
    public static class Root
    {
        /// <summary><c>kindling/document</c>: the whole job as one string of <c>doc_*</c> records, the agent's one GET.</summary>
        public const string Document = "document";

        /// <summary><c>kindling/steps/N</c>: host-driven steps, one document of step N's records at a time.</summary>
        public const string Steps = "steps";

        /// <summary>
        /// <c>kindling/cancel</c>, host-driven steps only: a step number N as a string; the agent ends the step it runs
        /// (its process group: TERM, then KILL after a grace) when that step's number is N or lower.
        /// </summary>
        public const string Cancel = "cancel";

        /// <summary><c>kindling/job/</c>: the job (<see cref="MmdsKeys.Job"/>).</summary>
        public const string Job = "job";

        /// <summary><c>kindling/secrets/</c>: NAME → value; masked in all output, never written to disk in the guest.</summary>
        public const string Secrets = "secrets";

        /// <summary><c>kindling/github/</c>: GitHub jobs only (<see cref="MmdsKeys.GitHub"/>).</summary>
        public const string GitHub = "github";

        /// <summary><c>kindling/network/</c>: optional (<see cref="MmdsKeys.Network"/>).</summary>
        public const string Network = "network";
    }

    /// <summary>The keys of <c>kindling/job/</c>.</summary>
    public static class Job
    {
        public const string Id = "id";
        public const string Name = "name";

        /// <summary>Absent or "0": no limit.</summary>
        public const string TimeoutSeconds = "timeout_seconds";

        /// <summary>Required in <see cref="ModeAll"/> (a GitHub job may say "0"); absent in <see cref="ModeHost"/>.</summary>
        public const string StepCount = "step_count";

        /// <summary><see cref="ModeAll"/> (absent: the default) or <see cref="ModeHost"/>.</summary>
        public const string Mode = "mode";

        /// <summary>Every step in the document, step_count of them, conditions evaluated by the agent.</summary>
        public const string ModeAll = "all";

        /// <summary>No steps in the document: the runner hands each one over at <c>kindling/steps/N</c> when its turn comes.</summary>
        public const string ModeHost = "host";

        /// <summary>A stopped step's time between TERM and KILL, in milliseconds; absent: 5000.</summary>
        public const string StopGraceMs = "stop_grace_ms";

        /// <summary>
        /// Optional: the user every step runs as, NAME, UID, NAME:GROUP or UID:GID, resolved against the guest's
        /// /etc/passwd and /etc/group before the first step (absent: root).
        /// </summary>
        public const string User = "user";

        /// <summary>Optional: the guest's hostname for the job, set before the first step (absent: the image's).</summary>
        public const string Hostname = "hostname";

        /// <summary><c>steps/N/</c>, N from 0 (<see cref="MmdsKeys.Step"/>).</summary>
        public const string Steps = "steps";

        /// <summary>The job-level environment, NAME → value.</summary>
        public const string Env = "env";
    }

    /// <summary>The keys of <c>kindling/job/steps/N/</c>.</summary>
    public static class Step
    {
        public const string Name = "name";
        public const string Run = "run";
        public const string Shell = "shell";
        public const string WorkingDirectory = "working_directory";
        public const string If = "if";

        /// <summary>"true" or "false".</summary>
        public const string ContinueOnError = "continue_on_error";

        /// <summary>The step's own limit (timeout-minutes) in whole seconds; absent or "0": none (the job's limit still holds).</summary>
        public const string TimeoutSeconds = "timeout_seconds";

        /// <summary>
        /// Directories (one a line) to put in front of PATH for this step, each in turn (the last comes first):
        /// what earlier steps' <c>::add-path::</c> commands added, which the runner reads from their output.
        /// </summary>
        public const string AddPath = "add_path";

        /// <summary>The step's environment, NAME → value.</summary>
        public const string Env = "env";
    }

    /// <summary>The keys of <c>kindling/github/</c>.</summary>
    public static class GitHub
    {
        /// <summary>The encoded JIT configuration the official runner starts with (masked like a secret).</summary>
        public const string JitConfig = "jitconfig";
    }

    /// <summary>The keys of <c>kindling/network/</c>.</summary>
    public static class Network
    {
        /// <summary>The guest's address with its prefix, e.g. "172.16.0.2/30".</summary>
        public const string Address = "address";
        public const string Gateway = "gateway";
        public const string Dns = "dns";
    }

    /// <summary>
    /// The keys of <c>kindling/host/</c>: what the host tells the guest when it hands over the job, which a guest
    /// restored from a snapshot needs before any step runs (PROTOCOL.md, "Restored guests").
    /// </summary>
    public static class Host
    {
        /// <summary><c>kindling/host</c> itself.</summary>
        public const string Key = "host";

        /// <summary>The host's wall clock, whole seconds since the Unix epoch: the agent steps its clock to it.</summary>
        public const string Clock = "clock";

        /// <summary>Which clone of its golden snapshot this guest is (0: a cold boot), for the log.</summary>
        public const string Generation = "generation";

        /// <summary>32 random bytes from the host as hex: the agent mixes them into its RNG.</summary>
        public const string Seed = "seed";
    }
}
