using Kindling.Runner.Replay.Expressions;

namespace Kindling.Runner.Replay;

/// <summary>Where the job's files come from and what git says about them (for the github context).</summary>
public sealed record SourceInfo
{
    /// <summary>The repository (or plain directory) the workspace is taken from.</summary>
    public required string Root { get; init; }
    public bool IsGit { get; init; }
    public string Sha { get; init; } = "0000000000000000000000000000000000000000";
    /// <summary>refs/heads/BRANCH (or the sha when HEAD is detached).</summary>
    public string Ref { get; init; } = "refs/heads/main";
    /// <summary>owner/name from the origin remote, else local/DIRECTORY.</summary>
    public string Repository { get; init; } = "local/workspace";
    public string Actor { get; init; } = "kindling";
}

/// <summary>What the user gave <c>kindling replay</c> besides the workflow: event, secrets, variables, filters.</summary>
public sealed record ReplayInputs
{
    public required SourceInfo Source { get; init; }
    /// <summary>github.event_name.</summary>
    public string EventName { get; init; } = "push";
    /// <summary>github.event: the event file's JSON (an empty object when none).</summary>
    public ExprValue Event { get; init; } = ExprValue.Object([]);
    /// <summary>Secrets given with -s / --secret-file, by name. Held in memory only.</summary>
    public IReadOnlyDictionary<string, string> Secrets { get; init; } = new Dictionary<string, string>();
    /// <summary>--var NAME=VALUE: the vars context.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Vars { get; init; } = [];
    /// <summary>--input NAME=VALUE and --input-file: workflow_dispatch/workflow_call inputs, over the event's and the defaults.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Inputs { get; init; } = [];
    /// <summary>--env-file: environment of every step, below the workflow's own env.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> EnvFile { get; init; } = [];
    /// <summary>--matrix key:value filters.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> MatrixFilters { get; init; } = [];
    /// <summary>Base image flavour: minimal or debian.</summary>
    public string Image { get; init; } = ReplayDefaults.MinimalImage;
    /// <summary>--worktree: the working tree as it is, instead of a checkout of HEAD.</summary>
    public bool Worktree { get; init; }
    /// <summary>--action-cache DIR: remote actions found at DIR/owner/repo/ref (act's offline layout); null: none.</summary>
    public string? ActionCache { get; init; }
    /// <summary>--local-repository owner/repo@ref=PATH (<see cref="RemoteSources.LocalRepositories"/>): taken before the action cache.</summary>
    public IReadOnlyDictionary<string, string> LocalRepositories { get; init; } = new Dictionary<string, string>();
    /// <summary>--actor: github.actor and github.triggering_actor (over the event's sender); null: the sender, else the source's.</summary>
    public string? Actor { get; init; }
    /// <summary>Where other repositories are found: <see cref="LocalRepositories"/>, then <see cref="ActionCache"/>.</summary>
    public RemoteSources Remotes => new() { ActionCache = ActionCache, LocalRepositories = LocalRepositories };
    /// <summary>--skip-uses: run the job with its unsupported uses: steps reported and skipped.</summary>
    public bool SkipUses { get; init; }
    /// <summary>--container-image NAME=FLAVOUR: the Kindling image a job whose container: is NAME runs in (else <see cref="Image"/>).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> ContainerImages { get; init; } = [];
    /// <summary>Set by the planner while it plans a job with a container: (its steps' default shell is sh, as GitHub's).</summary>
    public bool InContainer { get; init; }

    /// <summary>
    /// The <c>needs</c> context (each needed job's result and outputs) once those jobs have run; null when planning
    /// ahead of them (a dry run, the checks before a run): then every need counts as succeeded and its outputs are shown
    /// as placeholders.
    /// </summary>
    public ExprValue? Needs { get; init; }
    /// <summary>Whether a needed job did not succeed (a job's if: without a status function is then false).</summary>
    public bool NeedsFailed { get; init; }
    /// <summary>
    /// The summaries of the run's ended jobs by id (for the needs of a job that calls a reusable workflow, which its
    /// callee's with:, secrets: and if: read); null when planning ahead (they count as succeeded, outputs shown as placeholders).
    /// </summary>
    public Func<string, JobSummary?>? Results { get; init; }

    /// <summary>What hashFiles() hashes (null: hashFiles() is an error naming why).</summary>
    public WorkspaceHash? WorkspaceHash { get; init; }

    /// <summary>What the workspace holds, in words.</summary>
    public string WorkspaceDescription => Worktree
        ? $"working tree of {Source.Root}"
        : Source.IsGit ? $"HEAD {Source.Sha[..Math.Min(ReplayDefaults.ShortShaLength, Source.Sha.Length)]} of {Source.Root}" : $"directory {Source.Root}";
}

/// <summary>Names and defaults of a replay.</summary>
public static class ReplayDefaults
{
    public const string MinimalImage = "minimal";
    public const string DebianImage = "debian";
    public const string Tenant = "replay";
    /// <summary>The guest's workspace (images/guest/agent.sh: the overlay's upper/workspace).</summary>
    public const string GuestWorkspace = "/workspace";
    /// <summary>GitHub's job timeout when timeout-minutes is not given.</summary>
    public static readonly TimeSpan DefaultJobTimeout = TimeSpan.FromMinutes(360);
    public const int ShortShaLength = 7;
    public const int VmVcpus = 2;
    public const int VmMemoryMib = 2048;
    public const string DefaultWorkflowDirectory = ".github/workflows";
    public const string DefaultSecretFile = ".secrets";
    public const string DefaultEnvFile = ".env";
    public const string DefaultInputFile = ".input";
    /// <summary>Guest-side files standing in for GITHUB_OUTPUT and friends (written, not read back, in replay).</summary>
    public const string GuestCommandFileDirectory = "/tmp";
}
