using Kindling.Runner.Jobs;
using Kindling.Runner.Replay.Expressions;
using Kindling.Runner.Replay.Workflows;

namespace Kindling.Runner.Replay;

/// <summary>
/// <c>actions/checkout</c> in a replay. The workspace already holds the repository replay runs from (HEAD, or the
/// working tree), so a plain checkout runs nothing. <c>with.ref</c> checks out another ref of that repository (its
/// tree as <c>git archive</c> gives it, staged into the workspace before the job starts; a ref git does not know is
/// refused, naming it), and <c>with.path</c> puts the checkout under <c>$GITHUB_WORKSPACE/PATH</c>, as on GitHub
/// (the directory is emptied first, as checkout's <c>clean</c> does). Another repository is not supported.
/// </summary>
internal static class CheckoutStep
{
    /// <summary>Where staged trees are in the workspace: <c>.kindling/checkout/KEY</c> (KEY the commit, or <see cref="WorkspaceKey"/>).</summary>
    public const string StagedDirectory = ".kindling/checkout";

    /// <summary>The key of the workspace's own tree (a checkout of the repository's HEAD or working tree into a path).</summary>
    public const string WorkspaceKey = "workspace";

    /// <summary>
    /// The step, or null when it has nothing to do (no ref other than what the workspace holds, no path).
    /// <paramref name="at"/> gives the context for a with: key (its Where names the key).
    /// </summary>
    public static PlannedStep? Plan(WorkflowStep s, string uses, Func<string, ExprContext> at, StepConditions cond, string name, bool continueOnError,
        ReplayInputs inputs, List<string> warnings)
    {
        string? With(string key) => s.With.FirstOrDefault(kv => kv.Key == key).Value is { } t
            ? Template.Evaluate(t, at($"with.{key}")) is { IsSecret: false } v ? v.ToString().Trim() : throw new ReplayException($"{at($"with.{key}").Where}: a secret cannot be used here")
            : null;

        if (s.With.Any(kv => kv.Key == "submodules"))
        {
            warnings.Add($"step {s.Number}: {uses} with.submodules is not supported (ignored): the workspace holds the repository's own files only");
        }

        if (cond.AgentCondition == StepConditions.Never)
        {
            return null; // never runs: its ref need not exist (GitHub evaluates nothing of a skipped step)
        }

        PlannedStep Step(string run, PlannedStepKind kind = PlannedStepKind.Checkout, string? reason = null, (string, string?)? tree = null, string? note = null) => new()
        {
            Number = s.Number, Name = name, Kind = kind, Uses = uses, IfSource = s.If, UnsupportedReason = reason, CheckoutTree = tree, Notes = note is null ? [] : [note],
            Spec = new StepSpec { Name = name, Run = run, Shell = ShellNames.Sh, If = cond.AgentCondition, ContinueOnError = continueOnError },
        };

        string? repository = With("repository");
        string own = inputs.Source.Repository;
        if (repository is { Length: > 0 } && !repository.Equals(own, StringComparison.OrdinalIgnoreCase))
        {
            string why = $"with.repository: checking out another repository ({repository}) is not supported: replay checks out refs of the repository it runs from ({own})";
            return Step($"echo 'kindling: uses: {uses}: {why.Replace("'", "", StringComparison.Ordinal)}; step skipped (--skip-uses)'", PlannedStepKind.UnsupportedUses, why);
        }

        string? path = Path(With("path"), at("with.path").Where);
        string? @ref = With("ref");
        string? commit = null;
        if (@ref is { Length: > 0 } && !inputs.Source.IsGit)
        {
            throw new ReplayException($"{at("with.ref").Where}: {inputs.Source.Root} is not a git repository: replay checks out another ref from git only");
        }

        if (@ref is { Length: > 0 })
        {
            commit = GitSource.ResolveCommit(inputs.Source, @ref)
                ?? throw new ReplayException($"{at("with.ref").Where}: '{@ref}' is not a branch, tag or commit of {inputs.Source.Root} (git rev-parse knows no such ref); " +
                                             $"fetch it (git fetch origin {@ref}) or fix the ref");
            commit = commit == inputs.Source.Sha ? null : commit; // the workspace already holds HEAD (or the working tree over it)
        }

        if (commit is null && path is null)
        {
            return null;
        }

        string key = commit ?? WorkspaceKey;
        string what = commit is null ? $"the {inputs.WorkspaceDescription}" : $"{@ref} ({commit[..12]})";
        string dst = path is null ? "\"$ws\"" : $"\"$ws\"/{Quote(path)}";
        string done = $"kindling: {uses}: {what} checked out in $GITHUB_WORKSPACE{(path is null ? "" : "/" + path)}";
        string missing = $"kindling: {uses}: {what} was not staged before the job started (a ref or path known only at run time is not supported)";
        string workspace = "ws=${KINDLING_WORKSPACE:-" + ReplayDefaults.GuestWorkspace + "}";
        string script = $$"""
            {{workspace}}
            src="$ws/{{StagedDirectory}}/{{key}}"
            if [ ! -d "$src" ]; then
              echo {{Quote(missing)}}
              exit 2
            fi
            mkdir -p {{dst}}
            for f in {{dst}}/* {{dst}}/.[!.]* {{dst}}/..?*; do
              case "${f##*/}" in .kindling) continue ;; esac
              if [ -e "$f" ] || [ -L "$f" ]; then rm -rf "$f"; fi
            done
            cp -a "$src/." {{dst}}/
            echo {{Quote(done)}}
            """;
        return Step(script, tree: (key, commit), note: $"checks out {what} in $GITHUB_WORKSPACE{(path is null ? "" : "/" + path)}");
    }

    /// <summary>Writes a staged tree into the workspace snapshot: the commit's files (git archive), or the snapshot's own.</summary>
    public static async Task StageAsync(SourceInfo source, string snapshot, string key, string? commit, CancellationToken ct)
    {
        string target = System.IO.Path.Combine(snapshot, StagedDirectory, key);
        if (Directory.Exists(target))
        {
            return;
        }

        if (commit is not null)
        {
            await GitSource.ArchiveAsync(source.Root, commit, target, ct);
        }
        else
        {
            Kindling.Runner.Launch.WorkspaceTree.Copy(snapshot, target, StagedDirectory.Split('/')[0]);
        }
    }

    /// <summary>with.path: a relative path under the workspace (null: none, or the workspace itself).</summary>
    private static string? Path(string? path, string where)
    {
        if (path is null || path.Trim('/').Length == 0 || path.Trim('/') == ".")
        {
            return null;
        }

        string p = path.Trim().TrimEnd('/');
        if (p.StartsWith('/') || p.Split('/').Any(part => part == "..") || p.Any(char.IsControl))
        {
            throw new ReplayException($"{where}: '{path}' is not under $GITHUB_WORKSPACE; give a relative path without '..' (GitHub refuses it too)");
        }

        return p.StartsWith("./", StringComparison.Ordinal) ? p[2..] : p;
    }

    /// <summary>A POSIX shell single-quoted word.</summary>
    private static string Quote(string s) => "'" + s.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
