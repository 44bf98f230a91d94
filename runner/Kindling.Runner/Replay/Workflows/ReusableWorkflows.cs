using Kindling.Runner.Replay.Expressions;

namespace Kindling.Runner.Replay.Workflows;

/// <summary>
/// Expands jobs that call reusable workflows (<c>jobs.&lt;id&gt;.uses</c>) into the callee's jobs, as GitHub runs and
/// shows them: each callee job becomes <c>caller/job</c>, its needs within the callee prefixed the same way, the
/// callee's first jobs needing what the caller needs. The calling job stays, needing every callee job: it stands for
/// the call (its result and <c>on.workflow_call.outputs</c>) in the needs of later jobs. A local callee is
/// <c>./path</c> from the repository; a remote one (<c>owner/repo/path@ref</c>) is read from a --local-repository or the action cache
/// (<c>DIR/owner/repo/ref/path</c>). Calls nest at most <see cref="MaxDepth"/> deep, as on GitHub; a cycle is refused.
/// A calling job with <c>strategy.matrix</c> calls once per combination: the callee's jobs of each call are
/// <c>caller (values)/job</c>; the calling job's <c>if:</c> is decided when the call's first jobs are due (CallGate).
/// </summary>
public static class ReusableWorkflows
{
    /// <summary>GitHub's limit: a workflow and up to three levels of reusable workflows below it.</summary>
    public const int MaxDepth = 4;

    /// <summary>The workflow with its calls expanded; a call that cannot be read keeps its job, marked with the reason.</summary>
    /// <param name="context">The workflow-level contexts (github, inputs, vars) a calling job's strategy is evaluated in; null: none (a literal matrix only).</param>
    public static Workflow Expand(Workflow wf, string repoRoot, string? actionCache, ExprContext? context = null) =>
        Expand(wf, repoRoot, new RemoteSources { ActionCache = actionCache }, context);

    /// <summary>The same, a remote callee found by <paramref name="remotes"/> (a --local-repository, then the action cache).</summary>
    public static Workflow Expand(Workflow wf, string repoRoot, RemoteSources remotes, ExprContext? context = null)
    {
        if (wf.Jobs.All(j => j.Uses is null))
        {
            return wf;
        }

        List<string> stack = [wf.FullPath is { } f ? Path.GetFullPath(f) : wf.File];
        const string NotYet = "a calling job's strategy.matrix reading it is not supported by replay yet (write the matrix out)";
        var top = context ?? new ExprContext
        {
            Contexts = new Dictionary<string, ExprValue>(StringComparer.OrdinalIgnoreCase),
            Unavailable = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase) { ["github"] = NotYet, ["inputs"] = NotYet, ["vars"] = NotYet },
        };
        return wf with { Jobs = ExpandJobs(wf, wf.Jobs, new Expansion(repoRoot, remotes, top), null, stack) };
    }

    private sealed record Expansion(string RepoRoot, RemoteSources Remotes, ExprContext Top);

    private static List<WorkflowJob> ExpandJobs(Workflow wf, IReadOnlyList<WorkflowJob> jobs, Expansion x, ReusableCall? parent, List<string> stack)
    {
        List<WorkflowJob> result = [];
        foreach (WorkflowJob job in jobs)
        {
            if (job.Uses is not { } uses)
            {
                result.Add(job);
                continue;
            }

            string where = $"{wf.FileName}: jobs.{job.Id}.uses: {uses}";
            try
            {
                string path = Resolve(uses, x.RepoRoot, x.Remotes, where);
                if (stack.Contains(path, StringComparer.Ordinal))
                {
                    throw new ReplayException($"{where}: the reusable workflows call each other in a cycle ({string.Join(" -> ", stack.Append(path).Select(Path.GetFileName))}); GitHub refuses such a workflow");
                }

                if (stack.Count >= MaxDepth)
                {
                    throw new ReplayException($"{where}: reusable workflows nest more than {MaxDepth} levels deep ({string.Join(" -> ", stack.Append(path).Select(Path.GetFileName))}); GitHub allows at most {MaxDepth}");
                }

                Workflow callee;
                try
                {
                    callee = WorkflowParser.ParseFile(path, Path.GetRelativePath(x.RepoRoot, path));
                }
                catch (WorkflowException e)
                {
                    throw new ReplayException($"{where}: {e.Message}", e);
                }

                if (!callee.Events.Contains("workflow_call", StringComparer.Ordinal))
                {
                    throw new ReplayException($"{where}: {callee.FileName} is not a reusable workflow (its on: has no workflow_call)");
                }

                List<WorkflowJob> expanded = [];
                foreach (CallInstance? instance in Instances(job, parent, x.Top, where))
                {
                    string label = instance is null ? "" : $" ({string.Join(", ", instance.Combination.Values.Select(kv => kv.Value.ToString()))})";
                    string prefix = job.Id + label + "/";
                    var call = new ReusableCall(job, callee, prefix, parent) { Instance = instance };
                    stack.Add(path);
                    List<WorkflowJob> inner = ExpandJobs(callee, callee.Jobs, x, call, stack);
                    stack.RemoveAt(stack.Count - 1);
                    HashSet<string> innerIds = [.. inner.Select(j => j.Id)];
                    expanded.AddRange(inner.Select(j => j with
                    {
                        Id = prefix + j.Id,
                        Name = j.Name is { } n ? $"{job.Name ?? job.Id}{label} / {n}" : null,
                        Needs = j.Needs.Count == 0 ? job.Needs : [.. j.Needs.Select(n => innerIds.Contains(n) ? prefix + n : n)],
                        CalleeJobs = [.. j.CalleeJobs.Select(c => prefix + c)],
                        Call = j.Call ?? call,
                    }));
                }

                result.AddRange(expanded);
                result.Add(job with { CalleeJobs = [.. expanded.Select(j => j.Id)], Needs = [.. expanded.Select(j => j.Id)], Outputs = callee.CallOutputs, Call = parent });
            }
            catch (ReplayException e)
            {
                result.Add(job with { CallError = e.Message, Call = parent });
            }
        }

        return result;
    }

    /// <summary>
    /// One null (a plain call), or one instance per combination of the calling job's <c>strategy.matrix</c>, evaluated
    /// in the workflow-level contexts (a nested call's caller cannot read its own inputs here: replay refuses that).
    /// </summary>
    private static IReadOnlyList<CallInstance?> Instances(WorkflowJob job, ReusableCall? parent, ExprContext top, string where)
    {
        if (job.Matrix is null)
        {
            return [null];
        }

        var ctx = top with
        {
            Where = $"{where}: strategy.matrix",
            Unavailable = new Dictionary<string, string>(top.Unavailable, StringComparer.OrdinalIgnoreCase)
            {
                ["needs"] = "a matrix read from needs on a job that calls a reusable workflow is not supported by replay yet (write the matrix out)",
                ["matrix"] = "the matrix is not known at this level",
            },
        };
        if (parent is not null)
        {
            ctx = ctx with
            {
                Contexts = ctx.Contexts.Where(kv => kv.Key != "inputs").ToDictionary(StringComparer.OrdinalIgnoreCase),
                Unavailable = new Dictionary<string, string>(ctx.Unavailable, StringComparer.OrdinalIgnoreCase)
                {
                    ["inputs"] = "a nested call's matrix cannot read its workflow's inputs in replay (write the matrix out)",
                },
            };
        }

        try
        {
            IReadOnlyList<MatrixCombination> combos = ReplayPlanner.Matrix(job, ctx);
            (bool failFast, int maxParallel) = ReplayPlanner.Strategy(job, ctx with { Where = $"{where}: strategy" }, combos.Count);
            var strategy = new CallStrategy(job.Id, failFast, maxParallel);
            return [.. combos.Select((c, i) => new CallInstance(c, i, combos.Count, strategy))];
        }
        catch (ExpressionException e)
        {
            throw new ReplayException(e.Message, e);
        }
        catch (MatrixException e)
        {
            throw new ReplayException(e.Message, e);
        }
    }

    /// <summary>The callee's file: <c>./path</c> in the repository, or <c>owner/repo/path@ref</c> in the action cache.</summary>
    private static string Resolve(string uses, string repoRoot, RemoteSources remotes, string where)
    {
        if (uses.StartsWith("./", StringComparison.Ordinal))
        {
            string local = Path.GetFullPath(Path.Combine(repoRoot, uses[2..]));
            return File.Exists(local) ? local : throw new ReplayException($"{where}: {uses[2..]} does not exist in the repository ({repoRoot})");
        }

        int at = uses.LastIndexOf('@');
        string[] parts = at < 0 ? [] : uses[..at].Split('/', 3);
        if (parts.Length < 3)
        {
            throw new ReplayException($"{where}: expected ./.github/workflows/FILE.yml or OWNER/REPO/.github/workflows/FILE.yml@REF");
        }

        string repository = $"{parts[0]}/{parts[1]}", @ref = uses[(at + 1)..];
        if (remotes.IsEmpty)
        {
            throw new ReplayException($"{where}: a remote reusable workflow is not supported without --action-cache DIR (it is read from DIR/{repository}/{@ref}/{parts[2]}) " +
                                      $"or --local-repository {repository}@{@ref}=PATH");
        }

        string? expected = null;
        string? root = RemoteSources.ValidRef(@ref) ? remotes.Find(repository, @ref, out expected) : null;
        string file = Path.GetFullPath(Path.Combine(root ?? expected ?? Path.Combine(remotes.ActionCache ?? "", repository, @ref), parts[2]));
        return root is not null && File.Exists(file) ? file
            : remotes.LocalRepositories.ContainsKey($"{repository.ToLowerInvariant()}@{@ref}")
                ? throw new ReplayException($"{where}: the reusable workflow is not in --local-repository {repository}@{@ref} ({file} does not exist)")
                : throw new ReplayException($"{where}: a remote reusable workflow not in the action cache is not supported ({file} does not exist)");
    }
}
