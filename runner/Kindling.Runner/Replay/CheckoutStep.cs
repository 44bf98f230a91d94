using Kindling.Runner.Jobs;
using Kindling.Runner.Replay.Expressions;
using Kindling.Runner.Replay.Workflows;

namespace Kindling.Runner.Replay;

/// <summary>
/// <c>actions/checkout</c> in a replay. The workspace already holds the repository replay runs from (HEAD, or the
/// working tree), so a plain checkout runs nothing. <c>with.ref</c> checks out another ref of that repository (its
/// tree as <c>git archive</c> gives it, staged into the workspace before the job starts; a ref git does not know is
/// refused, naming it), and <c>with.path</c> puts the checkout under <c>$GITHUB_WORKSPACE/PATH</c>, as on GitHub
/// (the directory is emptied first, as checkout's <c>clean</c> does). <c>with.repository</c> naming another repository
/// takes its tree from a <c>--local-repository</c> or the action cache (<see cref="RemoteSources"/>) at <c>with.ref</c>, or
/// without one at the ref that stands for its default branch offline; a repository replay does not have is refused
/// for that step, naming the directory it looked for.
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

        PlannedStep Step(string run, PlannedStepKind kind = PlannedStepKind.Checkout, string? reason = null, (string, string?)? tree = null, string? note = null,
            (string, string)? stage = null) => new()
        {
            Number = s.Number, Name = name, Kind = kind, Uses = uses, IfSource = s.If, UnsupportedReason = reason, CheckoutTree = tree, Notes = note is null ? [] : [note],
            StageAction = stage,
            Spec = new StepSpec { Name = name, Run = run, Shell = ShellNames.Sh, If = cond.AgentCondition, ContinueOnError = continueOnError },
        };

        string? repository = With("repository");
        string? path = Path(With("path"), at("with.path").Where);
        string? @ref = With("ref");
        if (repository is { Length: > 0 } && !repository.Equals(inputs.Source.Repository, StringComparison.OrdinalIgnoreCase))
        {
            string repo = OtherRepository(repository, at("with.repository").Where);
            if (@ref is { Length: > 0 } && !RemoteSources.ValidRef(@ref))
            {
                throw new ReplayException($"{at("with.ref").Where}: '{@ref}' is not a ref replay can look up (no empty, '.' or '..' part, no leading '-')");
            }

            if (Find(repo, @ref is { Length: > 0 } ? @ref : null, inputs.Remotes, out string why) is not { } found)
            {
                return Step($"echo 'kindling: uses: {uses}: {why.Replace("'", "", StringComparison.Ordinal)}; step skipped (--skip-uses)'", PlannedStepKind.UnsupportedUses, why);
            }

            string other = $"{repo}@{found.Ref}";
            return Step(Script(uses, Key(other), other, path), note: $"checks out {other} ({found.Directory}) in $GITHUB_WORKSPACE{(path is null ? "" : "/" + path)}",
                stage: (found.Directory, $"{StagedDirectory}/{Key(other)}"));
        }

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
        return Step(Script(uses, key, what, path), tree: (key, commit), note: $"checks out {what} in $GITHUB_WORKSPACE{(path is null ? "" : "/" + path)}");
    }

    /// <summary>The guest script: empties the destination (but .kindling) and copies the tree staged under KEY into it.</summary>
    private static string Script(string uses, string key, string what, string? path)
    {
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
        return script;
    }

    /// <summary>with.repository naming another repository: owner/repo, or an error naming the key.</summary>
    private static string OtherRepository(string repository, string where)
    {
        string[] parts = repository.Split('/');
        return parts.Length == 2 && RemoteSources.ValidName(parts[0]) && RemoteSources.ValidName(parts[1]) ? repository
            : throw new ReplayException($"{where}: '{repository}' is not owner/repo (e.g. actions/checkout)");
    }

    /// <summary>
    /// Another repository at <paramref name="ref"/> (null: its default branch, <see cref="RemoteSources.DefaultRef"/>)
    /// from a --local-repository or the action cache; null with <paramref name="why"/> when replay does not have it.
    /// A full <c>refs/heads/NAME</c> or <c>refs/tags/NAME</c> is also looked up as NAME.
    /// </summary>
    private static (string Ref, string Directory)? Find(string repository, string? @ref, RemoteSources remotes, out string why)
    {
        why = "";
        if (@ref is null)
        {
            if (remotes.DefaultRef(repository, out IReadOnlyList<string> held) is { } def && remotes.Find(repository, def, out _) is { } dir)
            {
                return (def, dir);
            }

            why = held.Count > 1
                ? $"with.repository {repository} without with.ref is its default branch, which replay cannot tell offline among the refs held ({string.Join(", ", held)}): " +
                  $"give with.ref, or lay the default branch out as {RemoteSources.DefaultBranchRef}"
                : $"with.repository {repository} (its default branch, no with.ref) is not here: {RemoteSources.HowToGive(repository, RemoteSources.DefaultBranchRef)}";
            return null;
        }

        string? expected = null;
        foreach (string candidate in (string[])[@ref, ShortRef(@ref)])
        {
            if (remotes.Find(repository, candidate, out string? looked) is { } dir)
            {
                return (candidate, dir);
            }

            expected ??= looked;
        }

        why = $"with.repository {repository} at {@ref} is not here" + (expected is null ? "" : $" (expected {expected})") + $": {RemoteSources.HowToGive(repository, @ref)}";
        return null;
    }

    private static string ShortRef(string @ref) =>
        @ref.StartsWith("refs/heads/", StringComparison.Ordinal) ? @ref["refs/heads/".Length..]
        : @ref.StartsWith("refs/tags/", StringComparison.Ordinal) ? @ref["refs/tags/".Length..] : @ref;

    /// <summary>The staging key of another repository's tree: a hash of owner/repo@ref (no shell or path characters).</summary>
    private static string Key(string other) =>
        "repo-" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(other.ToLowerInvariant())))[..16];

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
